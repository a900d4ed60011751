"""litmus 0.13 passes every test of basic, copymove, props, locks and http
against the live server, as a normal user inside a writable folder.

The user's category has no right on the root (it is a pass-through folder for
them) and the right ``write`` on the test folder only: litmus runs under the
rights engine exactly as a member of the association would."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import requests

from davdrive import node_admin
from tests.conftest import LiveServer, add_user, basic, require_tool

SUITES = ("basic", "copymove", "props", "locks", "http")


def test_litmus_passes_every_suite_as_a_normal_user(live: LiveServer, tmp_path: Path) -> None:
    litmus = require_tool("litmus")
    runtime = live.app.runtime
    add_user(
        runtime, "member1", "pass-word-1", documents="write", category="writer", root_right="none"
    )
    created = requests.request(
        "MKCOL", f"{live.url}/dav/shared/", headers={"Authorization": basic("tester", "secret")},
        timeout=10,
    )
    assert created.status_code == 201
    with runtime.sessions() as session:
        shared = node_admin.resolve_path(session, "/shared")
        node_admin.set_folder_rights(session, shared, {"writer": "write"})
        session.commit()
    outside = requests.request(
        "PUT", f"{live.url}/dav/outside.txt", data=b"x",
        headers={"Authorization": basic("member1", "pass-word-1")}, timeout=10,
    )
    assert outside.status_code == 403  # the root is only a way through for this user
    run_litmus(litmus, f"{live.url}/dav/shared/", "member1", "pass-word-1", tmp_path)


def run_litmus(litmus: str, url: str, login: str, password: str, cwd: Path) -> None:
    """Run every suite of ``SUITES`` against ``url``; assert none failed nor warned."""
    result = subprocess.run(
        [litmus, url, login, password],
        cwd=cwd, capture_output=True, text=True, timeout=300,
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
