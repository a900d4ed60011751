"""Slow and greedy clients against the real server (issue 9, finding 5).

Finding 5: "15 slow clients sending headers stall everyone" (16 worker
threads), and "XML bodies are read before authentication". Rules: a client
that has not sent a whole request head holds no worker thread and is cut off
after ``server.header_timeout``; a body that pauses longer than
``server.body_timeout`` ends its request; one source address may hold at most
``server.max_connections_per_ip`` connections; an unauthenticated request is
answered 401 without its body being read.
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from davdrive.passwords import Passwords
from davdrive.runtime import open_runtime
from davdrive.server import create_app
from davdrive.settings import Settings
from tests.conftest import LiveServer, add_user, basic, serving
from tests.live.wire import read_all, send_raw

pytestmark = pytest.mark.live

AUTH = basic("tester", "secret").encode()
OTHER_SOURCE = "127.0.0.2"  # another loopback address: Linux routes all of 127/8 to lo


@pytest.fixture
def make_live(
    settings: Settings, fast_passwords: Passwords, tmp_path: Path
) -> Iterator[Any]:
    """Start a server with some settings changed; all are stopped after the test."""
    stack = contextlib.ExitStack()

    def start(**changes: Any) -> LiveServer:
        name = f"s{len(stack._exit_callbacks)}"
        changed = settings.replace(**changes, data_dir=str(tmp_path / name / "data"))
        rt = open_runtime(changed, fast_passwords)
        stack.callback(rt.close)
        add_user(rt, "tester", "secret")
        return stack.enter_context(serving(create_app(changed, rt)))

    with stack:
        yield start


def propfind(port: int) -> bytes:
    return (
        b"PROPFIND /dav/ HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nAuthorization: %s\r\n"
        b"Depth: 0\r\nConnection: close\r\n\r\n" % (port, AUTH)
    )


class Trickler:
    """Opens connections that send a request head one byte at a time, forever."""

    def __init__(self, port: int, count: int, every: float = 0.5) -> None:
        self.sockets = []
        for _ in range(count):
            sock = socket.create_connection(("127.0.0.1", port), timeout=5)
            self.sockets.append(sock)
        self.every = every
        self.stop = threading.Event()
        self.cut_off: list[float] = []
        self.started = time.monotonic()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        head = b"PROPFIND /dav/ HTTP/1.1\r\nHost: x\r\nX-Slow: " + b"a" * 10_000
        i = 0
        alive = list(self.sockets)
        while alive and not self.stop.is_set() and i < len(head):
            for sock in list(alive):
                try:
                    sock.send(head[i : i + 1])
                except OSError:
                    alive.remove(sock)
                    self.cut_off.append(time.monotonic() - self.started)
            i += 1
            self.stop.wait(self.every)

    def close(self) -> None:
        self.stop.set()
        self.thread.join(timeout=5)
        for sock in self.sockets:
            sock.close()


def test_slow_header_clients_do_not_stall_others(make_live: Any) -> None:
    """Finding 5: more header-trickling connections than worker threads (8 > 4).

    A normal PROPFIND from another source address is still answered at once,
    well before the header timeout frees anything.
    """
    live = make_live(**{"server.threads": 4, "server.header_timeout": 30,
                        "server.max_connections_per_ip": 50})
    slow = Trickler(live.port, 8)
    try:
        time.sleep(1.0)
        started = time.monotonic()
        wire = send_raw(live.port, propfind(live.port), source=OTHER_SOURCE, timeout=10)
        elapsed = time.monotonic() - started
        assert wire.statuses == [207]
        assert elapsed < 3, f"a normal request waited {elapsed:.1f}s behind slow clients"
        assert slow.cut_off == [], "no slow client should be cut off yet (30 s timeout)"
    finally:
        slow.close()


def test_a_head_trickled_past_the_header_timeout_is_cut_off(make_live: Any) -> None:
    """One byte every 0.3 s keeps a socket busy but never completes: 408 and closed."""
    live = make_live(**{"server.header_timeout": 2})
    with socket.create_connection(("127.0.0.1", live.port), timeout=10) as sock:
        started = time.monotonic()
        closed_at = None
        for byte in b"PROPFIND /dav/ HTTP/1.1\r\nHost: x\r\nX-Slow: " + b"a" * 100:
            try:
                sock.send(bytes([byte]))
            except OSError:
                closed_at = time.monotonic() - started
                break
            time.sleep(0.3)
            if time.monotonic() - started > 6:
                break
        wire = read_all(sock, 2)
    assert wire.closed, "the server must close a connection whose head never completes"
    assert wire.statuses in ([408], [])
    elapsed = closed_at if closed_at is not None else time.monotonic() - started
    assert elapsed < 6


def test_a_stalled_body_ends_with_408_after_the_body_timeout(make_live: Any) -> None:
    """PUT /dav/stalled.txt announcing 100 bytes, sending 10 and then nothing."""
    live = make_live(**{"server.body_timeout": 1})
    head = (
        b"PUT /dav/stalled.txt HTTP/1.1\r\nHost: x\r\nAuthorization: %s\r\n"
        b"Content-Length: 100\r\n\r\n0123456789" % AUTH
    )
    started = time.monotonic()
    wire = send_raw(live.port, head, timeout=10)
    assert time.monotonic() - started < 6
    assert wire.statuses == [408]
    assert wire.closed
    assert send_raw(live.port, b"GET /dav/stalled.txt HTTP/1.1\r\nHost: x\r\nAuthorization: "
                    + AUTH + b"\r\nConnection: close\r\n\r\n").statuses == [404]


def test_connections_per_address_are_capped(make_live: Any) -> None:
    """With a cap of 3, a 4th connection from 127.0.0.1 gets 503 at once; 127.0.0.2 is served."""
    live = make_live(**{"server.max_connections_per_ip": 3})
    idle = [socket.create_connection(("127.0.0.1", live.port), timeout=5) for _ in range(3)]
    try:
        time.sleep(0.3)
        started = time.monotonic()
        wire = send_raw(live.port, propfind(live.port), timeout=5)
        assert wire.statuses == [503]
        assert b"\r\nRetry-After: 1\r\n" in wire.data  # clients know when to come back
        assert wire.closed
        assert time.monotonic() - started < 2
        assert send_raw(live.port, propfind(live.port), source=OTHER_SOURCE).statuses == [207]
    finally:
        for sock in idle:
            sock.close()
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:  # the closed connections free their slots
        if send_raw(live.port, propfind(live.port)).statuses == [207]:
            break
        time.sleep(0.2)
    else:
        pytest.fail("slots of closed connections were not released")


def test_unauthenticated_xml_request_gets_401_without_its_body_being_read(
    live: LiveServer,
) -> None:
    """Finding 5: PROPFIND /dav/ without credentials announcing a 500 KB body.

    The client sends the head only: the 401 comes at once (the server neither
    waits for the body nor reads it) and the connection is closed.
    """
    head = (
        b"PROPFIND /dav/ HTTP/1.1\r\nHost: x\r\nDepth: 1\r\n"
        b"Content-Type: application/xml\r\nContent-Length: 500000\r\n\r\n"
    )
    started = time.monotonic()
    wire = send_raw(live.port, head, timeout=5)
    assert wire.statuses == [401]
    assert wire.closed
    assert time.monotonic() - started < 3


def test_expect_continue_is_not_sent_to_an_unauthenticated_client(live: LiveServer) -> None:
    """No "100 Continue" invites a body the server will not read."""
    head = (
        b"PROPFIND /dav/ HTTP/1.1\r\nHost: x\r\nDepth: 1\r\nExpect: 100-continue\r\n"
        b"Content-Length: 500\r\n\r\n"
    )
    wire = send_raw(live.port, head, timeout=3)
    assert not wire.data.startswith(b"HTTP/1.1 100")
    assert wire.statuses == [401]


def test_expect_continue_still_works_for_a_signed_in_upload(live: LiveServer) -> None:
    head = (
        b"PUT /dav/expect.txt HTTP/1.1\r\nHost: x\r\nAuthorization: %s\r\n"
        b"Expect: 100-continue\r\nContent-Length: 5\r\nConnection: close\r\n\r\n" % AUTH
    )
    with socket.create_connection(("127.0.0.1", live.port), timeout=5) as sock:
        sock.sendall(head)
        interim = sock.recv(100)
        assert interim.startswith(b"HTTP/1.1 100 Continue")
        sock.sendall(b"hello")
        wire = read_all(sock, 5)
    assert wire.statuses == [201]


def test_a_refused_request_with_its_body_sent_still_gets_its_answer(live: LiveServer) -> None:
    """PUT /dav/big.bin without credentials, 2 MB body sent at once: the 401 arrives whole.

    The body is not read; closing a socket with unread data would send a reset
    that can destroy the answer, so the server half-closes and discards instead.
    """
    body = b"z" * 2_000_000
    head = b"PUT /dav/big.bin HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n" % len(body)
    for _ in range(3):
        with socket.create_connection(("127.0.0.1", live.port), timeout=10) as sock:
            with contextlib.suppress(OSError):
                sock.sendall(head + body)
            wire = read_all(sock, 10)
        assert wire.statuses == [401], wire.data[:200]
