"""`make bench` in quick mode: both real servers, every row of bench/results.md.

Rule checked: the benchmark runs on a clean checkout (bench/run.py starts bare
WsgiDAV and `davdrive serve`, runs every workload against both, interleaved),
exits 0 when the workloads ran without error, and its report has a numeric
ratio and a verdict for every target of the performance issue, the 10k
listing's first byte, both servers' memory, flatness, scaling and the
hidden-vs-missing timings.
"""

from __future__ import annotations

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
    for server in ("wsgidav", "davdrive"):
        assert re.search(rf"^\| {server} \| \d+ MiB \| \d+ MiB \|$", text, re.MULTILINE)
    assert len(re.findall(r"^\| (upload|download|PROPFIND) of .* MiB \|$", text,
                          re.MULTILINE)) == 3
    assert re.search(rf"^Flat: {VERDICT}", text, re.MULTILINE)
    scaling = re.findall(rf"^\| (GET|PROPFIND|PUT) [^|]+ \| [\d.]+ \| [\d.]+ \| [\d.]+ "
                         rf"\| {VERDICT} \|$", text, re.MULTILINE)
    assert len(scaling) == 3
    assert len(re.findall(r"^\| (GET|PROPFIND) \| [^|]+ \| [\d.]+ \| [\d.]+ \| [\d.]+ \|$",
                          text, re.MULTILINE)) == 6  # hidden vs missing
    assert re.search(r"^\*\*\d+ of 15 checks met\.\*\*$", text, re.MULTILINE)
    assert "## Errors" not in text
