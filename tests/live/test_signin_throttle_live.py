"""Issue 14 over the real server: sign-in throttling by source address.

Rules checked (docs/security.md, "Throttling of failed sign-ins"), with real
TCP peers (127.0.0.1 and 127.0.0.2 are two source addresses on loopback):
- the 11th wrong password for one login from one address is answered
  ``429 Too Many Requests`` with Retry-After and a sentence naming no account;
  the owner gets in from another address, not from the refused one;
- a throttled attempt runs no argon2 verification (calls to argon2's
  ``PasswordHasher.verify`` counted in the server's process, not timed);
- behind a trusted proxy the client is the right-most X-Forwarded-For hop that
  is not a proxy, also when the proxies sent the header on several lines (they
  are joined in order, as RFC 9110 says for list fields).
"""

from __future__ import annotations

import http.client
import threading
from pathlib import Path

import pytest
from argon2 import PasswordHasher
from sqlalchemy import select

from davdrive.models import AuditEvent
from davdrive.settings import Settings, load_settings
from tests.conftest import LiveServer, basic

pytestmark = pytest.mark.live


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return load_settings(None, {}, {"data_dir": str(tmp_path / "data"), "server.port": 0,
                                    "server.trusted_proxies": ["127.0.0.1", "10.0.0.0/8"]})


def propfind(live: LiveServer, login: str, password: str, peer: str = "127.0.0.1",
             forwarded: tuple[str, ...] = ()) -> tuple[int, dict[str, str], str]:
    """PROPFIND /dav/ (Depth 0) on a new connection from ``peer``, one
    X-Forwarded-For line per ``forwarded`` entry: (status, headers, body)."""
    conn = http.client.HTTPConnection("127.0.0.1", live.port, timeout=10,
                                      source_address=(peer, 0))
    try:
        conn.putrequest("PROPFIND", "/dav/")
        conn.putheader("Authorization", basic(login, password))
        conn.putheader("Depth", "0")
        conn.putheader("Content-Length", "0")
        for hop in forwarded:
            conn.putheader("X-Forwarded-For", hop)
        conn.endheaders()
        answer = conn.getresponse()
        body = answer.read().decode("utf-8", "replace")
        return answer.status, {k.lower(): v for k, v in answer.getheaders()}, body
    finally:
        conn.close()


def test_the_eleventh_wrong_password_gets_429_and_the_owner_gets_in_from_elsewhere(
    live: LiveServer,
) -> None:
    peer = "127.0.0.2"  # not a trusted proxy: its own address counts
    assert [propfind(live, "tester", "wrong", peer)[0] for _ in range(10)] == [401] * 10
    status, headers, body = propfind(live, "tester", "wrong", peer)
    assert status == 429
    assert 0 < int(headers["retry-after"]) <= 15 * 60
    assert "Too many failed sign-ins from here; try again in 15 minutes." in body
    assert "tester" not in body
    assert propfind(live, "tester", "secret", "127.0.0.3")[0] == 207
    assert propfind(live, "tester", "secret", peer)[0] == 429


def test_behind_proxies_the_right_most_untrusted_hop_is_counted(live: LiveServer) -> None:
    """Through two trusted proxies (127.0.0.1, then 10.0.0.5), each adding its own
    X-Forwarded-For line; the client's own forged line comes first."""
    for n in range(10):
        hops = (f"192.0.2.{n}", "198.51.100.1", "10.0.0.5")
        assert propfind(live, "tester", "wrong", forwarded=hops)[0] == 401
    assert propfind(live, "tester", "secret",
                    forwarded=("192.0.2.99", "198.51.100.1", "10.0.0.5"))[0] == 429
    assert propfind(live, "tester", "secret", forwarded=("198.51.100.2", "10.0.0.5"))[0] == 207
    with live.app.runtime.sessions() as session:
        ips = set(session.scalars(select(AuditEvent.ip).where(AuditEvent.action == "login")))
    assert ips == {"198.51.100.1", "198.51.100.2"}


def test_throttled_attempts_run_no_argon2_and_the_owner_gets_in_from_elsewhere(
    live: LiveServer, monkeypatch: pytest.MonkeyPatch,
) -> None:
    """10 wrong passwords from one address cost 10 argon2 verifications; the 11th
    wrong one, and the right one from there, are 429 with Retry-After and cost none;
    the right password from another address is then verified (one more) and let in."""
    calls = [0]
    lock = threading.Lock()
    real_verify = PasswordHasher.verify

    def counted(self: PasswordHasher, hash: str | bytes, password: str | bytes) -> bool:
        with lock:
            calls[0] += 1
        return real_verify(self, hash, password)

    monkeypatch.setattr(PasswordHasher, "verify", counted)
    peer, elsewhere = "127.0.0.4", "127.0.0.5"  # neither is a trusted proxy
    assert [propfind(live, "tester", "wrong", peer)[0] for _ in range(10)] == [401] * 10
    assert calls[0] == 10
    for password in ("wrong", "also wrong", "secret"):
        status, headers, _ = propfind(live, "tester", password, peer)
        assert status == 429, password
        assert 0 < int(headers["retry-after"]) <= 15 * 60, password
    assert calls[0] == 10, "a throttled attempt ran argon2"
    assert propfind(live, "tester", "secret", elsewhere)[0] == 207
    assert calls[0] == 11
