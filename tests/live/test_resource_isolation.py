"""Issue 9, finding 5, served directly by cheroot: slow clients and a password spray.

Findings reproduced:
- "15 slow authenticated PUT bodies make every other request 500 after 30 s
  (QueuePool limit of size 5 overflow 10 reached)": here with 4 worker threads,
  3 PUTs whose bodies stall mid-way; the rule is that they hold no DB
  connection while stalled and another client's PROPFIND and GET answer at once.
- "During a password spray over 32 connections a signed-in user's GET went from
  24 ms to 1.9 s": the rule is that at most ``auth.max_parallel_checks`` argon2
  verifications run at once, a sign-in without a free slot is answered 503 with
  Retry-After without running argon2, and a signed-in (cached) user never waits.
Loopback only; the numbers of connections are small and bounded.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from davdrive.passwords import Passwords
from davdrive.settings import Settings, load_settings
from tests.conftest import LiveServer, basic
from tests.live.wire import read_head

THREADS = 4
SLOW_PUTS = THREADS - 1
AUTH = {"Authorization": basic("tester", "secret")}


class ConcurrencyProbe(Passwords):
    """The real argon2 hasher (a noticeable 32 MiB cost), recording how many
    verifications overlap and how many ran."""

    def __init__(self) -> None:
        super().__init__(time_cost=1, memory_cost=32 * 1024, parallelism=1)
        self._lock = threading.Lock()
        self.running = 0
        self.most_at_once = 0
        self.verifications = 0

    def verify(self, stored_hash: str | None, password: str) -> bool:
        with self._lock:
            self.running += 1
            self.verifications += 1
            self.most_at_once = max(self.most_at_once, self.running)
        try:
            return super().verify(stored_hash, password)
        finally:
            with self._lock:
                self.running -= 1


@pytest.fixture
def fast_passwords() -> Passwords:
    return ConcurrencyProbe()


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return load_settings(
        None,
        {},
        {
            "data_dir": str(tmp_path / "data"),
            "server.port": 0,
            "server.threads": THREADS,
            "auth.max_parallel_checks": 1,
            "auth.check_wait_ms": 50,
            # The spray comes from many addresses (``FromAddress``); one address would
            # be turned away by the per-address connection cap (test_slow_clients) and
            # by the sign-in throttle (test_signin_throttle_live).
            "server.max_connections_per_ip": 0,
        },
    )


class FromAddress(requests.adapters.HTTPAdapter):
    """Connections from ``address`` (any of 127.0.0.0/8 on loopback)."""

    def __init__(self, address: str) -> None:
        self.address = address
        super().__init__()

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        kwargs["source_address"] = (self.address, 0)
        super().init_poolmanager(*args, **kwargs)


def start_slow_put(live: LiveServer, path: str, announced: int, first: bytes) -> socket.socket:
    """Send a PUT's headers and the first bytes of its body, then stall."""
    sock = socket.create_connection(("127.0.0.1", live.port), timeout=10)
    head = (
        f"PUT {path} HTTP/1.1\r\nHost: 127.0.0.1:{live.port}\r\n"
        f"Authorization: {AUTH['Authorization']}\r\n"
        f"Content-Length: {announced}\r\nContent-Type: text/plain\r\n\r\n"
    )
    sock.sendall(head.encode() + first)
    return sock


def finish_put(sock: socket.socket, rest: bytes) -> bytes:
    sock.sendall(rest)
    data = read_head(sock)
    sock.close()
    return data.split(b"\r\n", 1)[0]


def wait_until(predicate, seconds: float = 5.0) -> bool:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.02)
    return bool(predicate())


@pytest.fixture
def slow_puts(live: LiveServer) -> Iterator[list[socket.socket]]:
    assert requests.put(live.url + "/dav/shared.txt", b"hello", headers=AUTH, timeout=10).ok
    socks = [
        start_slow_put(live, f"/dav/slow-{i}.txt", 20, b"0123456789") for i in range(SLOW_PUTS)
    ]
    tmp = live.app.settings.blob_dir / "tmp"
    writes = live.app.provider.lock_manager

    def started() -> bool:  # a temp file each, or (small bodies, received into memory)
        return len(list(tmp.iterdir())) == SLOW_PUTS or all(  # each URL being written
            writes.being_written(f"/dav/slow-{i}.txt") for i in range(SLOW_PUTS)
        )

    assert wait_until(started), "uploads did not start"
    yield socks
    for sock in socks:
        sock.close()


def test_stalled_put_bodies_hold_no_db_connection(
    live: LiveServer, slow_puts: list[socket.socket]
) -> None:
    """3 PUT /dav/slow-N.txt stalled after 10 of 20 bytes on a 4-thread server: the pool
    shows no checked-out connection (each used to hold one until its body ended)."""
    pool = live.app.runtime.engine.pool
    assert wait_until(lambda: pool.checkedout() == 0, 3.0), pool.status()  # type: ignore[attr-defined]


def test_another_client_is_served_while_put_bodies_stall(
    live: LiveServer, slow_puts: list[socket.socket]
) -> None:
    """While 3 PUT bodies stall, PROPFIND /dav/ and GET /dav/shared.txt by another
    client answer 207/200 within a second; then every stalled PUT completes with 201."""
    for _ in range(5):
        started = time.monotonic()
        listing = requests.request(
            "PROPFIND", live.url + "/dav/", headers={**AUTH, "Depth": "1"}, timeout=10
        )
        got = requests.get(live.url + "/dav/shared.txt", headers=AUTH, timeout=10)
        assert (listing.status_code, got.status_code, got.content) == (207, 200, b"hello")
        assert time.monotonic() - started < 1.0
    statuses = [finish_put(sock, b"abcdefghij") for sock in slow_puts]
    assert statuses == [b"HTTP/1.1 201 Created"] * SLOW_PUTS
    for i in range(SLOW_PUTS):
        body = requests.get(live.url + f"/dav/slow-{i}.txt", headers=AUTH, timeout=10).content
        assert body == b"0123456789abcdefghij"


SPRAYERS = 32
ATTEMPTS = 6


def test_password_spray_is_bounded_and_signed_in_user_keeps_working(live: LiveServer) -> None:
    """32 connections, each from its own address, send 6 PROPFIND /dav/ with wrong
    passwords each while the signed-in tester GETs a file: at most 1 argon2 check at a
    time (auth.max_parallel_checks), the overflow gets 503 + Retry-After without an
    argon2 run, never a 500, and the tester's cached GETs all answer 200 within a
    generous 2 s."""
    assert requests.put(live.url + "/dav/note.txt", b"note", headers=AUTH, timeout=10).ok
    probe = live.app.runtime.passwords
    assert isinstance(probe, ConcurrencyProbe)
    verified_before = probe.verifications
    statuses: list[int] = []
    retry_after: list[str | None] = []
    lock = threading.Lock()
    start = threading.Barrier(SPRAYERS + 1)

    def spray(n: int) -> None:
        with requests.Session() as http:
            http.mount("http://", FromAddress(f"127.0.1.{n + 1}"))
            start.wait()
            for k in range(ATTEMPTS):
                r = http.request(
                    "PROPFIND", live.url + "/dav/",
                    headers={"Authorization": basic("tester", f"guess-{n}-{k}"), "Depth": "0"},
                    timeout=30,
                )
                with lock:
                    statuses.append(r.status_code)
                    if r.status_code == 503:
                        retry_after.append(r.headers.get("Retry-After"))

    threads = [threading.Thread(target=spray, args=(n,)) for n in range(SPRAYERS)]
    for t in threads:
        t.start()
    start.wait()
    user_times = []
    with requests.Session() as http:
        while any(t.is_alive() for t in threads):
            began = time.monotonic()
            r = http.get(live.url + "/dav/note.txt", headers=AUTH, timeout=30)
            user_times.append(time.monotonic() - began)
            assert (r.status_code, r.content) == (200, b"note")
            time.sleep(0.02)
    for t in threads:
        t.join()
    assert len(statuses) == SPRAYERS * ATTEMPTS
    assert set(statuses) <= {401, 503}, statuses
    assert statuses.count(503) > 0, "the spray never exceeded one verification slot"
    assert retry_after and all(v is not None and v.isdigit() for v in retry_after)
    assert probe.most_at_once == 1
    assert probe.verifications - verified_before == statuses.count(401)
    assert user_times and max(user_times) < 2.0, user_times
