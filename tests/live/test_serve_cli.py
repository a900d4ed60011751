"""What `make run` does, step by step: init, demo, serve; a demo user gets a 207."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path

import requests

from tests.conftest import basic

DAVDRIVE = [sys.executable, "-m", "davdrive.cli"]


def run_cli(data: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*DAVDRIVE, "--data", str(data), *args],
        capture_output=True, text=True, timeout=120, check=False,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )


def demo_credentials(data: Path) -> dict[str, str]:
    text = (data / "demo-credentials.txt").read_text(encoding="utf-8")
    pairs = re.findall(r"^\s*(\w+)\s+\S+\s+(\S+)\s*$", text, re.MULTILINE)
    return {login: password for login, password in pairs if login != "login"}


def test_init_demo_serve_then_a_demo_user_lists_the_drive(tmp_path: Path) -> None:
    data = tmp_path / "data"
    init = run_cli(data, "init")
    assert init.returncode == 0, init.stderr
    demo = run_cli(data, "demo")
    assert demo.returncode == 0, demo.stderr
    credentials = demo_credentials(data)
    assert "carol" in credentials, (data / "demo-credentials.txt").read_text()
    assert oct((data / "demo-credentials.txt").stat().st_mode & 0o777) == "0o600"
    again = run_cli(data, "demo")
    assert again.returncode == 0 and "already" in again.stdout

    server = subprocess.Popen(
        [*DAVDRIVE, "--data", str(data), "serve", "--host", "127.0.0.1", "--port", "0"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        assert server.stdout is not None
        deadline = time.monotonic() + 30
        url = None
        while time.monotonic() < deadline and url is None:
            line = server.stdout.readline()
            match = re.search(r"Serving on (http://\S+)", line)
            if match:
                url = match.group(1)
        assert url is not None, "server did not report its URL"
        for login in ("alice", "carol"):
            response = requests.request(
                "PROPFIND", url, headers={"Depth": "1",
                                          "Authorization": basic(login, credentials[login])},
                timeout=10,
            )
            assert response.status_code == 207, (login, response.text)
        refused = requests.request(
            "PROPFIND", url, headers={"Depth": "1", "Authorization": basic("carol", "wrong")},
            timeout=10,
        )
        assert refused.status_code == 401
        options = requests.options(url.rsplit("/dav/", 1)[0] + "/", timeout=10)
        assert options.status_code == 200 and "2" in options.headers["DAV"]
    finally:
        server.terminate()
        server.wait(timeout=10)


def test_config_errors_are_all_reported_and_exit_non_zero(tmp_path: Path) -> None:
    cfg = tmp_path / "bad.toml"
    cfg.write_text("[server]\nport = 'x'\nthreads = 0\n", encoding="utf-8")
    result = subprocess.run(
        [*DAVDRIVE, "--config", str(cfg), "--data", str(tmp_path / "d"), "init"],
        capture_output=True, text=True, timeout=60, check=False,
    )
    assert result.returncode != 0
    assert "server.port" in result.stderr and "server.threads" in result.stderr
    assert "Traceback" not in result.stderr
