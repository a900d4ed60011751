"""One `davdrive serve` per data folder.

Rule (issue "reliability", finding 8): a second `serve` on a data folder that a
running server uses is refused at once (exit status 1, a message naming the
folder and the running process) and changes nothing; other commands keep working
while the server runs; once the server has stopped, even by SIGKILL, `serve` works.
"""

from __future__ import annotations

import os
import signal
import subprocess
from pathlib import Path

import pytest
import requests

from tests.conftest import basic
from tests.live.test_serve_cli import DAVDRIVE, run_cli, start_server, stop

pytestmark = pytest.mark.live


def _second_serve(data: Path) -> subprocess.CompletedProcess[str]:
    """`serve` that must end by itself within 20 s (a refusal is immediate)."""
    try:
        return subprocess.run(
            [*DAVDRIVE, "--data", str(data), "serve", "--host", "127.0.0.1", "--port", "0"],
            capture_output=True, text=True, timeout=20, check=False,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
    except subprocess.TimeoutExpired as exc:
        started = exc.stdout
        raise AssertionError(f"a second server started on the same folder: {started!r}") from None


def test_second_serve_on_one_data_folder_is_refused_while_the_first_runs(
    tmp_path: Path,
) -> None:
    """serve + serve on one folder: the second exits 1 naming the folder and the first
    server's pid; the first still answers; `user add` works meanwhile; after the first
    stops (SIGTERM, then a SIGKILL'd one) a new serve starts."""
    data = tmp_path / "data"
    assert run_cli(data, "init").returncode == 0
    first, url = start_server(data)
    try:
        refused = _second_serve(data)
        assert refused.returncode == 1, (refused.stdout, refused.stderr)
        assert "already served" in refused.stderr and str(data) in refused.stderr
        assert f"pid {first.pid}" in refused.stderr
        assert "Serving on" not in refused.stdout
        added = run_cli(data, "user", "add", "dora",
                        "--password-stdin", stdin="dora-secret-1\n")
        assert added.returncode == 0, added.stderr
        answer = requests.request("PROPFIND", url, headers={
            "Depth": "0", "Authorization": basic("dora", "dora-secret-1")}, timeout=10)
        assert answer.status_code == 207
    finally:
        stop(first)

    second, url = start_server(data)  # the lock went with the first process
    second.send_signal(signal.SIGKILL)
    second.wait(timeout=10)
    third, url = start_server(data)  # flock dies with a SIGKILLed holder too
    try:
        assert requests.request("PROPFIND", url, headers={
            "Depth": "0", "Authorization": basic("dora", "dora-secret-1")},
            timeout=10).status_code == 207
    finally:
        stop(third)
