"""litmus 0.13 passes every test of basic, copymove, props, locks and http
against the live server, as a normal user inside a writable folder."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import requests

from tests.conftest import LiveServer, add_user, basic, require_tool

SUITES = ("basic", "copymove", "props", "locks", "http")


def test_litmus_passes_every_suite_as_a_normal_user(live: LiveServer, tmp_path: Path) -> None:
    litmus = require_tool("litmus")
    add_user(live.app.runtime, "member1", "pass-word-1", documents="write", category="writer")
    created = requests.request(
        "MKCOL", f"{live.url}/dav/shared/", headers={"Authorization": basic("tester", "secret")},
        timeout=10,
    )
    assert created.status_code == 201
    result = subprocess.run(
        [litmus, f"{live.url}/dav/shared/", "member1", "pass-word-1"],
        cwd=tmp_path, capture_output=True, text=True, timeout=300,
        env={"TESTS": " ".join(SUITES), "PATH": "/usr/bin:/bin"},
    )
    output = result.stdout + result.stderr
    summaries = dict(
        re.findall(r"<- summary for `(\w+)': of \d+ tests run: \d+ passed, (\d+) failed", output)
    )
    assert set(summaries) == set(SUITES), output[-3000:]
    failed = {suite: n for suite, n in summaries.items() if n != "0"}
    assert failed == {}, output[-3000:]
    assert "WARNING" not in output, output[-3000:]
    assert result.returncode == 0
