"""`make bench` in quick mode: both real servers, every row of bench/results.md.

Rule checked: the benchmark runs on a clean checkout (bench/run.py starts bare
WsgiDAV and `davdrive serve`, runs every workload against both, interleaved),
exits 0 when the workloads ran without error, and its report has a numeric
ratio and a verdict for every target of the performance issue, the 10k
listing's first byte, both servers' memory, flatness, scaling and the
hidden-vs-missing timings, and get_large against the loopback ceiling.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.live

RUN = Path(__file__).resolve().parents[2] / "bench" / "run.py"
TARGETED = ["propfind1k", "propfind10k", "get_small_c1", "get_small_c8", "put_small_c1",
            "put_small_c8", "get_large", "put_large"]
VERDICT = r"(met|\*\*NOT met\*\*)"


def test_quick_bench_reports_every_row_with_numeric_ratios(tmp_path: Path) -> None:
    out = tmp_path / "results.md"
    done = subprocess.run([sys.executable, str(RUN), "--quick", "--out", str(out)],
                          capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    text = out.read_text()
    for name in TARGETED:
        assert re.search(rf"^\| {name} \| \d+\.\d\dx \| >= [\d.]+x \| {VERDICT} \|$", text,
                         re.MULTILINE), f"no ratio row for {name}"
        # medians of both servers are numbers, without errors
        assert re.search(rf"^\| {name} \| [^|]+ \| [\d,.]+ \([\d,.]+\) \| [\d,.]+ \([\d,.]+\) \|$",
                         text, re.MULTILINE), f"no medians for {name}"
    assert re.search(r"^\| propfind1k_allprop \| \d+\.\d\dx \| \(none\) \| - \|$", text,
                     re.MULTILINE)
    assert re.search(rf"First byte of the 10k listing \(median\): davdrive [\d.]+ ms "
                     rf"\(target <= 20 ms: {VERDICT}\)", text)
    for name in ("propfind1k", "propfind1k_allprop", "propfind10k"):
        assert re.search(rf"^\| {name} \| first byte [\d.]+ \| first byte [\d.]+ \|$", text,
                         re.MULTILINE), f"no first-byte time for {name}"
    for server in ("wsgidav", "davdrive"):
        assert re.search(rf"^\| {server} \| [1-9]\d* \| \d+ MiB \| \d+ MiB \| \d+ MiB \|$",
                         text, re.MULTILINE)
    # davdrive runs one process per core, plus its supervisor (when more than one)
    cores = os.cpu_count() or 1
    assert re.search(rf"^\| davdrive \| {cores + (cores > 1)} \|", text, re.MULTILINE)
    assert len(re.findall(r"^\| (upload|download|PROPFIND) of .* MiB \|$", text,
                          re.MULTILINE)) == 3
    assert re.search(rf"^Flat: {VERDICT}", text, re.MULTILINE)
    # get_large also against the machine's loopback ceiling (bench/ceiling.py)
    ceiling = re.search(r"^Loopback ceiling for get_large .*: ([\d,.]+) MB/s \([\d,.]+\)\. "
                        r"davdrive [\d,.]+ MB/s = \d+% of it, the target \(5x bare WsgiDAV\) "
                        r"[\d,.]+ MB/s = \d+% of it\.$", text, re.MULTILINE)
    assert ceiling and float(ceiling.group(1).replace(",", "")) > 0
    # the PUTs also against WsgiDAV writing durably (bench/durable_wsgidav.py)
    for name in ("put_small_c1", "put_small_c8", "put_large"):
        assert re.search(rf"^\| {name} \| [\d,.]+ \([\d,.]+\) \| [\d,.]+ \([\d,.]+\) "
                         rf"\| \d+\.\d\dx \|$", text.split("Like with like", 1)[1],
                         re.MULTILINE), f"no durable comparison for {name}"
    scaling = re.findall(rf"^\| (GET|PROPFIND|PUT) [^|]+ \| [\d.]+ \| [\d.]+ \| [\d.]+ "
                         rf"\| {VERDICT} \|$", text, re.MULTILINE)
    assert len(scaling) == 3
    assert len(re.findall(r"^\| (GET|PROPFIND) \| [^|]+ \| [\d.]+ \| [\d.]+ \| [\d.]+ \|$",
                          text, re.MULTILINE)) == 6  # hidden vs missing
    assert re.search(r"^\*\*\d+ of 15 checks met\.\*\*$", text, re.MULTILINE)
    assert "## Errors" not in text


def test_a_wrong_body_is_an_error_not_a_measurement(tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """GET of the 1 KiB fixtures from real bare WsgiDAV, after one file changed on disk:
    the harness compares every body, so the repetitions count errors and yield no median,
    and the report lists the error and marks the row NOT met (make bench then exits 1)."""
    monkeypatch.syspath_prepend(str(RUN.parent))
    import harness
    import report
    import servers
    from client import Target
    from workloads import Params, SmallGet

    params = Params(prefix="b").quick()
    bare = servers.start_wsgidav(tmp_path / "root", tmp_path)
    try:
        target = Target("wsgidav", bare.url, prepare=str(tmp_path / "root"))
        harness.prepare(params, target, ["small"], lambda _: None)
        (tmp_path / "root" / "b" / "small" / "s0003.bin").write_bytes(b"changed")
        (row,) = harness.run_workload(SmallGet(params, 1), [target], 1, lambda _: None)
    finally:
        bare.stop()
    assert row["errors"] > 0 and row["median"] is None
    assert any("body mismatch (7 bytes)" in message for message in row["error_samples"])
    ours = dict(row, target="davdrive")
    text = report.render(report.Run("m", "s", [row, ours], {}))
    assert "| get_small_c1 | - | >= 1.3x | **NOT met** |" in text
    assert "## Errors" in text


def test_durable_wsgidav_flushes_the_file_then_its_folder_before_the_answer(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """bench/durable_wsgidav.py's file: on close, the content is flushed and fsynced,
    then the folder holding its name; only then does WsgiDAV answer."""
    monkeypatch.syspath_prepend(str(RUN.parent))
    import durable_wsgidav

    synced: list[str] = []
    real_fsync = os.fsync

    def fsync(fd: int) -> None:
        synced.append(os.readlink(f"/proc/self/fd/{fd}"))
        real_fsync(fd)

    monkeypatch.setattr(durable_wsgidav.os, "fsync", fsync)
    path = tmp_path / "folder" / "new.bin"
    path.parent.mkdir()
    stream = durable_wsgidav.DurableFile(open(path, "wb", 8192), str(path))  # noqa: SIM115
    stream.writelines([b"a" * 5000, b"b" * 5000])
    stream.write(b"c")
    assert synced == []
    stream.close()
    assert synced == [str(path), str(path.parent)]
    assert path.read_bytes() == b"a" * 5000 + b"b" * 5000 + b"c"
