"""cadaver 0.24 (Debian) against the live server: put, get, mkcol, move, copy,
lock/unlock, propset/propget and propnames all succeed (issue 10).

cadaver always exits 0, even after a failure: every step's own line of output is
checked ("succeeded." / "failed:"), and the files are checked over HTTP.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
import requests

from tests.conftest import LiveServer, basic, require_tool

pytestmark = pytest.mark.live

AUTH = {"Authorization": basic("tester", "secret")}


def cadaver(live: LiveServer, home: Path, script: str) -> str:
    netrc = home / ".netrc"
    netrc.write_text("machine 127.0.0.1 login tester password secret\n")
    netrc.chmod(0o600)
    result = subprocess.run(
        [require_tool("cadaver"), f"{live.url}/dav/"],
        input=script, cwd=home, capture_output=True, text=True, timeout=60,
        env={"HOME": str(home), "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
             "LANG": "C.UTF-8"},
    )
    return result.stdout + result.stderr


def test_cadaver_session_round_trips(live: LiveServer, tmp_path: Path) -> None:
    """A scripted cadaver session: every command answers "succeeded", none "failed"."""
    local = tmp_path / "report.txt"
    local.write_bytes(b"quarterly report\n" * 100)
    script = (
        "mkcol Reports\n"
        "cd Reports\n"
        f"put {local} report.txt\n"
        "copy report.txt copy.txt\n"
        "move copy.txt moved.txt\n"
        "lock report.txt\n"
        "unlock report.txt\n"
        "propset report.txt colour blue\n"
        "propget report.txt colour\n"
        "propnames report.txt\n"
        f"get moved.txt {tmp_path / 'back.txt'}\n"
        "ls\n"
        "quit\n"
    )
    output = cadaver(live, tmp_path, script)
    assert "failed" not in output.lower(), output
    assert "Could not" not in output, output
    for step in ("Creating `Reports'", "Uploading", "Copying", "Moving", "Locking",
                 "Unlocking", "Setting property", "Downloading"):
        line = next((ln for ln in output.splitlines() if step in ln), None)
        assert line is not None and "succeeded" in line, (step, output)
    assert "blue" in output  # propget shows the value
    # propnames lists the names (RFC 4918 <propname/>), dead and live
    assert "custom-properties/ colour" in output and "DAV: getcontentlength" in output
    assert (tmp_path / "back.txt").read_bytes() == local.read_bytes()
    got = requests.get(f"{live.url}/dav/Reports/moved.txt", headers=AUTH, timeout=10)
    assert got.content == local.read_bytes()
    gone = requests.get(f"{live.url}/dav/Reports/copy.txt", headers=AUTH, timeout=10)
    assert gone.status_code == 404
