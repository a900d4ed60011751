"""A worker answers a kept-alive client's next request itself when it comes at once.

Rule (issue 12, GET of a small file): a client's requests back to back on one
connection must not each pay the hand-over from the worker to cheroot's
connection selector, the head waiter and another worker; the worker that
answered waits up to ``KEEP_SERVING`` seconds for the next head and answers
it. A head that does not arrive whole in time, a TLS connection, or a queue
of connections waiting for a worker take the usual way, and every answer is
still right.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from typing import Any

import pytest

from provider.http_server import KEEP_SERVING, DriveHTTPServer, GuardedConnection
from tests.conftest import running

pytestmark = pytest.mark.live


def _app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
    body = environ["PATH_INFO"].encode()
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))])
    return [body]


class CountingServer(DriveHTTPServer):
    """The real server, counting the connections handed to it for a request
    (cheroot's selector and the head waiter both go through ``process_conn``)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.handed: int = 0

    def process_conn(self, conn: GuardedConnection) -> None:
        self.handed += 1
        super().process_conn(conn)


@pytest.fixture
def server() -> Iterator[CountingServer]:
    server = CountingServer(("127.0.0.1", 0), _app, threads=4, header_timeout=5,
                            body_timeout=5, max_per_ip=0)
    with running(server):
        yield server


def _request(path: str) -> bytes:
    return f"GET {path} HTTP/1.1\r\nHost: localhost\r\n\r\n".encode()


def _answer(sock: socket.socket, path: str) -> None:
    """Read one answer (the app's bodies are their own path) and check it."""
    data = b""
    while b"\r\n\r\n" not in data or len(data.split(b"\r\n\r\n", 1)[1]) < len(path):
        chunk = sock.recv(4096)
        assert chunk, f"connection closed early: {data!r}"
        data += chunk
    head, body = data.split(b"\r\n\r\n", 1)
    assert head.startswith(b"HTTP/1.1 200 "), head
    assert body == path.encode()


def test_back_to_back_requests_are_answered_by_the_same_worker(
    server: CountingServer,
) -> None:
    """GET /r0 ... /r19 on one connection, each sent as soon as the previous answer
    is read: the connection is handed to the server once (when it opened), plus once
    for each request this client was too slow to send within the window (a loaded
    machine can pause it; without keeping the connection, every request is handed)."""
    late = 0  # requests that may have come after the window (bounded from above)
    with socket.create_connection(server.bind_addr[:2], timeout=5) as sock:
        sent = time.monotonic()
        for i in range(20):
            now = time.monotonic()
            late += i > 0 and now - sent > KEEP_SERVING / 2
            sent = now
            sock.sendall(_request(f"/r{i}"))
            _answer(sock, f"/r{i}")
    assert late < 10, "the client was too slow for the test to tell anything"
    assert server.handed <= 1 + late


def test_a_late_or_split_head_takes_the_usual_way(server: CountingServer) -> None:
    """GET /late after a pause longer than KEEP_SERVING, and GET /split whose head
    arrives in two parts with a pause between: both answered right, each after the
    connection went back to the server."""
    with socket.create_connection(server.bind_addr[:2], timeout=5) as sock:
        sock.sendall(_request("/first"))
        _answer(sock, "/first")
        time.sleep(KEEP_SERVING * 5)
        sock.sendall(_request("/late"))
        _answer(sock, "/late")
        split = _request("/split")
        sock.sendall(split[:10])
        time.sleep(KEEP_SERVING * 5)
        sock.sendall(split[10:])
        _answer(sock, "/split")
    assert server.handed == 3


def test_a_waiting_worker_does_not_hold_up_other_connections(
    server: CountingServer,
) -> None:
    """Four workers, eight connections that each send a request after a pause:
    every connection is answered, well before the other connections' workers
    could have finished waiting for them one after another."""
    socks = [socket.create_connection(server.bind_addr[:2], timeout=5) for _ in range(8)]
    try:
        for i, sock in enumerate(socks):
            sock.sendall(_request(f"/a{i}"))
        for i, sock in enumerate(socks):
            _answer(sock, f"/a{i}")
        started = time.monotonic()
        for i, sock in enumerate(socks):
            sock.sendall(_request(f"/b{i}"))
        for i, sock in enumerate(socks):
            _answer(sock, f"/b{i}")
        assert time.monotonic() - started < 1.0
    finally:
        for sock in socks:
            sock.close()
