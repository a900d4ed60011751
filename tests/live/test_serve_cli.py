"""What `make run` does, step by step: init, demo, serve; a demo user gets a 207."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from tests.conftest import basic, require_tool

DAVDRIVE = [sys.executable, "-m", "davdrive.cli"]


def run_cli(data: Path, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*DAVDRIVE, "--data", str(data), *args],
        capture_output=True, text=True, timeout=120, check=False, input=stdin,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )


def init_with_admin(data: Path, login: str, password: str) -> None:
    """``init`` a data folder and add ``login`` to the admin category, by the CLI."""
    assert run_cli(data, "init").returncode == 0
    added = run_cli(data, "user", "add", login, "--category", "admin", "--password-stdin",
                    stdin=password + "\n")
    assert added.returncode == 0, added.stderr


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

    server, url = start_server(data)
    try:
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
        root = url.rsplit("/dav/", 1)[0]
        options = requests.options(root + "/", timeout=10)
        assert options.status_code == 200 and "2" in options.headers["DAV"]
        # Only the drive and the admin view are mounted: no directory browser, no other share.
        carol = {"Authorization": basic("carol", credentials["carol"])}
        listing = requests.get(url, headers=carol, timeout=10)
        # GET on a folder: 200 with one line of text, never a listing (issue 10).
        assert listing.status_code == 200, listing.status_code
        assert listing.content.count(b"\n") == 1 and listing.content.endswith(b"\n")
        assert b"<html" not in listing.content.lower()
        home = requests.get(root + "/", timeout=10)
        assert home.headers["Content-Type"].startswith("text/plain")
        assert "/dav/" in home.text and b"<html" not in home.content.lower()
        for other in ("/static/x.css", "/dav2/", "/favicon.ico", "/admin-x/"):
            answer = requests.get(root + other, headers=carol, timeout=10)
            assert answer.status_code == 404, (other, answer.status_code)
            assert b"<html" not in answer.content.lower()
        # The web drive is mounted: a browser is sent to it and asked to sign in
        # (HTTP Basic credentials do not open it).
        browser = requests.get(root + "/", headers={**carol, "Accept": "text/html"},
                               timeout=10)
        assert browser.url == root + "/admin/signin?next=/files/"
        assert 'id="signin"' in browser.text
        # The demo's back office: carol's own shared card, not her medical certificate.
        own = url + "backoffice/members/Carol%20Petit/"
        card = requests.get(own + "Membership%20card.pdf", headers=carol, timeout=10)
        assert card.status_code == 200 and card.content.startswith(b"%PDF-")
        private = requests.get(own + "Medical%20certificate.pdf", headers=carol, timeout=10)
        assert private.status_code == 404
        overwrite = requests.put(own + "Membership%20card.pdf", data=b"x", headers=carol,
                                 timeout=10)
        assert overwrite.status_code == 403
    finally:
        stop(server)


def start_server(data: Path, *extra: str) -> tuple[subprocess.Popen[str], str]:
    """Run `davdrive serve` on a free port; return the process and its DAV URL."""
    server = subprocess.Popen(
        [*DAVDRIVE, "--data", str(data), "serve", "--host", "127.0.0.1", "--port", "0", *extra],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    return server, served_url(server)


def served_url(server: subprocess.Popen[str]) -> str:
    """The DAV URL a starting `davdrive serve` (stdout piped) prints; the process is
    stopped and its stderr shown when it ends or says nothing within 30 s."""
    assert server.stdout is not None
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        line = server.stdout.readline()
        if not line and server.poll() is not None:
            break
        match = re.search(r"Serving on (https?://\S+)", line)
        if match:
            return match.group(1)
    stop(server)
    errors = server.stderr.read() if server.stderr else ""
    raise AssertionError(f"server did not report its URL: {errors}")


def stop(server: subprocess.Popen[str]) -> None:
    server.terminate()
    try:
        server.wait(timeout=10)
    except subprocess.TimeoutExpired:
        server.kill()
        server.wait(timeout=10)


def test_serve_with_tls_answers_over_https_only(tmp_path: Path) -> None:
    openssl = require_tool("openssl")
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        [openssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
         "-keyout", str(key), "-out", str(cert), "-subj", "/CN=127.0.0.1",
         "-addext", "subjectAltName=IP:127.0.0.1"],
        check=True, capture_output=True, timeout=60,
    )
    data = tmp_path / "data"
    init_with_admin(data, "tls", "s3cret-pass-for-tls")
    server, url = start_server(data, "--tls-cert", str(cert), "--tls-key", str(key))
    try:
        assert url.startswith("https://127.0.0.1:")
        response = requests.request(
            "PROPFIND", url,
            headers={"Depth": "0", "Authorization": basic("tls", "s3cret-pass-for-tls")},
            verify=str(cert), timeout=10,
        )
        assert response.status_code == 207, response.text
        plain = url.replace("https://", "http://")
        with pytest.raises(requests.ConnectionError):
            requests.request("PROPFIND", plain, headers={"Depth": "0"}, timeout=10)
    finally:
        stop(server)


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
