"""The connect page's self-test (``web.files.self_test``) against real servers.

Rules: it reports every check as ok / warning / failed / skipped with a reason;
it only ever connects to this server's own URL (a host that is not this machine
nor in server.allowed_hosts, or a port other than the request's, is refused
before anything connects: no SSRF probe); it never follows a redirect; TLS is
judged by a certificate valid for the host; plain HTTP is ok only on loopback;
sign-in is a PROPFIND Depth 0 answered 207 for the login and app password.
"""

from __future__ import annotations

import http.server
import ipaddress
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from davdrive import accounts
from davdrive.passwords import Passwords
from davdrive.public_url import PublicOrigin
from davdrive.runtime import open_runtime
from davdrive.server import create_app
from davdrive.settings import load_settings
from tests.certs import LocalCA
from tests.conftest import LiveServer, add_user, serving
from web.files.self_test import NAMES, Check, Target, is_own_address, run

pytestmark = pytest.mark.live


def outcomes(checks: list[Check]) -> dict[str, str]:
    return {c.name: c.outcome for c in checks}


def reasons(checks: list[Check]) -> dict[str, str]:
    return {c.name: c.reason for c in checks}


def target(host: str, port: int, scheme: str = "http", request_port: int | None = None,
           allowed: frozenset[str] = frozenset()) -> Target:
    return Target(PublicOrigin(scheme, host, port), "/dav/",
                  port if request_port is None else request_port, allowed)


def app_token(live: LiveServer, login: str = "tester") -> str:
    with live.app.runtime.sessions() as session:
        token = accounts.app_password(session, login, "self-test")
        session.commit()
    return token


@contextmanager
def listener() -> Iterator[socket.socket]:
    """A listening loopback socket that must stay untouched (no accept)."""
    with socket.create_server(("127.0.0.1", 0)) as sock:
        sock.settimeout(0.2)
        yield sock


def was_contacted(sock: socket.socket) -> bool:
    try:
        conn, _ = sock.accept()
    except TimeoutError:
        return False
    conn.close()
    return True


def test_plain_http_on_loopback_all_checks_pass_with_the_app_password(live: LiveServer) -> None:
    checks = run(target("127.0.0.1", live.port), "tester", app_token(live))
    assert [c.name for c in checks] == list(NAMES)
    assert outcomes(checks) == dict.fromkeys(NAMES, "ok"), reasons(checks)
    assert "loopback" in reasons(checks)["Encryption"]
    assert "207" in reasons(checks)["Sign-in"]


def test_localhost_resolves_and_is_this_machine(live: LiveServer) -> None:
    checks = run(target("localhost", live.port), "tester", None)
    assert outcomes(checks)["Name lookup"] == "ok"
    assert outcomes(checks)["This server"] == "ok"
    assert outcomes(checks)["Drive answers"] == "ok", reasons(checks)
    assert outcomes(checks)["Sign-in"] == "skipped"
    assert "create one above" in reasons(checks)["Sign-in"]


def test_a_wrong_app_password_fails_the_sign_in_check(live: LiveServer) -> None:
    checks = run(target("127.0.0.1", live.port), "tester", "not-the-right-app-password")
    assert outcomes(checks)["Drive answers"] == "ok"
    assert outcomes(checks)["Sign-in"] == "failed"
    assert "refused tester" in reasons(checks)["Sign-in"]


def test_a_host_that_is_not_this_machine_is_never_contacted() -> None:
    """192.0.2.1 (TEST-NET) is nobody's address here: refused before connecting."""
    assert not is_own_address(ipaddress.ip_address("192.0.2.1"))
    checks = run(target("192.0.2.1", 80), "tester", "secret-token-abcdefgh")
    assert outcomes(checks)["This server"] == "failed"
    assert "nothing was sent" in reasons(checks)["This server"]
    assert [outcomes(checks)[n] for n in NAMES[2:]] == ["skipped"] * 4


def test_another_port_of_this_machine_is_never_contacted() -> None:
    with listener() as other:
        port = other.getsockname()[1]
        checks = run(target("127.0.0.1", port, request_port=port + 1 if port < 65535 else 1),
                     "tester", "secret-token-abcdefgh")
        assert outcomes(checks)["This server"] == "failed"
        assert f"Port {port}" in reasons(checks)["This server"]
        assert not was_contacted(other)


def test_a_host_in_allowed_hosts_passes_the_host_rule(live: LiveServer) -> None:
    checks = run(target("127.0.0.1", live.port, allowed=frozenset({"127.0.0.1"})), "t", None)
    assert "allowed_hosts" in reasons(checks)["This server"]


def test_a_closed_port_is_reported_as_refused() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    checks = run(target("127.0.0.1", port), "tester", None)
    assert outcomes(checks)["Connection"] == "failed"
    assert "connection refused" in reasons(checks)["Connection"]
    assert outcomes(checks)["Encryption"] == "skipped"


def test_a_redirect_is_reported_and_never_followed() -> None:
    with listener() as elsewhere:
        location = f"http://127.0.0.1:{elsewhere.getsockname()[1]}/dav/"

        class Redirect(http.server.BaseHTTPRequestHandler):
            def do_PROPFIND(self) -> None:  # noqa: N802  (the method's name)
                self.send_response(301)
                self.send_header("Location", location)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Redirect)
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        try:
            checks = run(target("127.0.0.1", server.server_address[1]), "tester", None)
        finally:
            server.shutdown()
            server.server_close()
        assert outcomes(checks)["Drive answers"] == "failed"
        assert location in reasons(checks)["Drive answers"]
        assert "not followed" in reasons(checks)["Drive answers"]
        assert not was_contacted(elsewhere)


@contextmanager
def tls_drive(tmp_path: Path, cert: Path, key: Path) -> Iterator[LiveServer]:
    settings = load_settings(None, {}, {
        "data_dir": str(tmp_path / "data"), "server.port": 0,
        "server.tls_cert": str(cert), "server.tls_key": str(key),
    })
    runtime = open_runtime(settings, Passwords(time_cost=1, memory_cost=8, parallelism=1))
    try:
        add_user(runtime, "tester", "secret")
        with serving(create_app(settings, runtime)) as live:
            yield live
    finally:
        runtime.close()


def test_https_with_a_certificate_valid_for_the_host_passes(tmp_path: Path) -> None:
    ca = LocalCA(tmp_path / "ca")
    with tls_drive(tmp_path, *ca.issue("good", "127.0.0.1", "localhost")) as live:
        checks = run(target("127.0.0.1", live.port, "https"), "tester", app_token(live),
                     trust=ca.trust())
    assert outcomes(checks) == dict.fromkeys(NAMES, "ok"), reasons(checks)
    assert "certificate valid for 127.0.0.1 until" in reasons(checks)["Encryption"]


@pytest.mark.parametrize("kind", ["self-signed", "other name"])
def test_https_with_a_certificate_not_valid_for_the_host_fails_and_sends_nothing(
    tmp_path: Path, kind: str
) -> None:
    ca = LocalCA(tmp_path / "ca")
    if kind == "self-signed":
        files = ca.issue("self", "127.0.0.1", self_signed=True)
    else:
        files = ca.issue("other", "drive.example.org")
    with tls_drive(tmp_path, *files) as live:
        checks = run(target("127.0.0.1", live.port, "https"), "tester", "secret-token-abcdefgh",
                     trust=ca.trust())
    assert outcomes(checks)["Connection"] == "ok"
    assert outcomes(checks)["Encryption"] == "failed"
    assert "certificate is not valid for 127.0.0.1" in reasons(checks)["Encryption"]
    assert outcomes(checks)["Sign-in"] == "skipped"


def test_https_to_a_plain_http_port_says_so(live: LiveServer) -> None:
    checks = run(target("127.0.0.1", live.port, "https"), "tester", None)
    assert outcomes(checks)["Encryption"] == "failed"
    assert "does this port speak HTTPS" in reasons(checks)["Encryption"]
