"""The benchmark's statistics and verdicts (bench/stats.py, bench/report.py).

Rule checked: results.md reports medians and bad tails, and a speed ratio that is
>1 when davdrive is faster, whether the unit is a time (lower is better) or a
rate (higher is better); a target is met when the ratio is at least the target.
Expected values are computed by hand.
"""

from __future__ import annotations

import importlib
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

BENCH = Path(__file__).resolve().parents[2] / "bench"


@pytest.fixture
def bench(monkeypatch: pytest.MonkeyPatch) -> Any:
    """The bench modules, importable the way the scripts import each other."""
    monkeypatch.syspath_prepend(str(BENCH))

    def load(name: str) -> ModuleType:
        return importlib.import_module(name)

    return load


def test_percentile_interpolates_between_closest_ranks(bench: Any) -> None:
    stats = bench("stats")
    assert stats.percentile([4, 1, 3, 2], 50) == 2.5  # between 2 and 3
    # five values: rank (5-1)*0.95 = 3.8 -> 40 + 0.8 * (50 - 40)
    assert stats.percentile([50, 10, 40, 20, 30], 95) == pytest.approx(48.0)
    # rank (5-1)*0.05 = 0.2 -> 10 + 0.2 * (20 - 10)
    assert stats.percentile([50, 10, 40, 20, 30], 5) == pytest.approx(12.0)
    assert stats.median([7, 1, 9]) == 7
    assert stats.percentile([], 50) is None


def test_tail_is_p95_of_times_and_p5_of_rates(bench: Any) -> None:
    stats = bench("stats")
    values = [10.0, 20.0, 30.0, 40.0, 50.0]
    assert stats.tail(values, stats.LOWER) == pytest.approx(48.0)  # slow end of times
    assert stats.tail(values, stats.HIGHER) == pytest.approx(12.0)  # slow end of rates


def test_speed_ratio_is_above_one_when_faster_for_times_and_rates(bench: Any) -> None:
    stats = bench("stats")
    # PROPFIND: bare 100 ms, ours 20 ms -> 5 times faster
    assert stats.speed_ratio(100.0, 20.0, stats.LOWER) == pytest.approx(5.0)
    # GET: bare 2000 req/s, ours 3000 req/s -> 1.5 times faster
    assert stats.speed_ratio(2000.0, 3000.0, stats.HIGHER) == pytest.approx(1.5)
    # slower: 4000 vs 1000 req/s -> 0.25
    assert stats.speed_ratio(4000.0, 1000.0, stats.HIGHER) == pytest.approx(0.25)
    assert stats.speed_ratio(None, 1.0, stats.LOWER) is None
    assert stats.speed_ratio(1.0, 0.0, stats.LOWER) is None


def _result(workload: str, target: str, median: float, unit: str, better: str,
            errors: int = 0) -> dict[str, Any]:
    return {"workload": workload, "target": target, "median": median, "tail": median,
            "unit": unit, "better": better, "errors": errors, "error_samples": {}}


def test_verdicts_compare_each_ratio_with_its_target(bench: Any) -> None:
    report = bench("report")
    results = [
        # 150 ms / 10 ms = 15.0: exactly the target of 15x -> met
        _result("propfind1k", "wsgidav", 150.0, "ms", "lower"),
        _result("propfind1k", "davdrive", 10.0, "ms", "lower"),
        # 1200 / 1000 req/s = 1.2 < 1.3 -> NOT met
        _result("get_small_c1", "wsgidav", 1000.0, "req/s", "higher"),
        _result("get_small_c1", "davdrive", 1200.0, "req/s", "higher"),
        # 2.0x >= 1.0 but with errors -> NOT met
        _result("put_small_c1", "wsgidav", 100.0, "req/s", "higher"),
        _result("put_small_c1", "davdrive", 200.0, "req/s", "higher", errors=3),
        # no target for allprop: reported, no verdict
        _result("propfind1k_allprop", "wsgidav", 30.0, "ms", "lower"),
        _result("propfind1k_allprop", "davdrive", 60.0, "ms", "lower"),
    ]
    rows = {name: (ratio, target, met) for name, ratio, target, met
            in report.ratio_rows(results)}
    assert rows["propfind1k"] == (pytest.approx(15.0), 15.0, True)
    assert rows["get_small_c1"] == (pytest.approx(1.2), 1.3, False)
    assert rows["put_small_c1"][2] is False
    assert rows["propfind1k_allprop"] == (pytest.approx(0.5), None, None)


def test_report_marks_memory_scaling_and_flatness_against_their_bounds(bench: Any) -> None:
    report = bench("report")
    mib = 1 << 20
    text = report.render(report.Run(
        machine="test machine", settings="test", results=[
            _result("propfind10k", "wsgidav", 900.0, "ms", "lower"),
            _result("propfind10k", "davdrive", 60.0, "ms", "lower") | {"ttfb_ms": 25.0},
        ],
        memory={"wsgidav": {"VmRSS": 100 * mib, "VmHWM": 120 * mib},
                "davdrive": {"VmRSS": 90 * mib, "VmHWM": 95 * mib}},
        flatness=[("upload", 90 * mib, 130 * mib)],  # +40 MiB > 32 MiB: not flat
        scaling=[("GET 1 KiB", 0.002, 0.0026), ("PUT", 0.002, 0.0027)],  # 1.3 met, 1.35 not
    ))
    assert "| propfind10k | 15.00x | >= 15x | met |" in text
    assert "davdrive 25.0 ms (target <= 20 ms: **NOT met**)" in text  # first byte
    assert "no more than bare WsgiDAV's: met" in text  # 90 <= 100 MiB
    assert "Flat: **NOT met** (largest growth 40 MiB)" in text
    assert "| GET 1 KiB | 2.00 | 2.60 | 1.30 | met |" in text
    assert "| PUT | 2.00 | 2.70 | 1.35 | **NOT met** |" in text
    # 6 checks: ratio, first byte, RSS, flatness, 2 scaling rows; met: ratio, RSS, 1 scaling
    assert "**3 of 6 checks met.**" in text
