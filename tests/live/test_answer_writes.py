"""An answer's head leaves with its first body bytes, and nothing is held back.

Rule (issue 12, GET of a small file): a small answer is one ``send`` on the
server (head and body together), not one for the head and one for the body;
the client then wakes up once. What must not change: an answer without a
body (HEAD, 204) is sent whole at once; "100 Continue" reaches a client that
waits for it before sending its body; large, chunked and file answers arrive
byte for byte.
"""

from __future__ import annotations

import socket
from collections.abc import Iterator
from typing import Any

import pytest

from provider.answer_writer import JOIN_MAX
from provider.http_server import DriveHTTPServer
from tests.conftest import running

pytestmark = pytest.mark.live

LARGE = bytes(range(256)) * (JOIN_MAX // 256 + 40)  # past JOIN_MAX


def _app(environ: dict[str, Any], start_response: Any) -> Any:
    path = environ["PATH_INFO"]
    if path == "/empty":
        start_response("204 No Content", [])
        return []
    if path == "/upload":
        length = int(environ.get("CONTENT_LENGTH") or 0)
        data = environ["wsgi.input"].read(length)
        start_response("201 Created", [("Content-Length", str(len(data)))])
        return [data]
    if path == "/large":
        start_response("200 OK", [("Content-Length", str(len(LARGE)))])
        return [LARGE[:100], LARGE[100:]]
    if path == "/chunked":
        start_response("200 OK", [("Content-Type", "text/plain")])
        return iter([b"first ", b"second ", b"third"])
    body = path.encode()
    start_response("200 OK", [("Content-Length", str(len(body)))])
    return [] if environ["REQUEST_METHOD"] == "HEAD" else [body]


@pytest.fixture
def server() -> Iterator[DriveHTTPServer]:
    server = DriveHTTPServer(("127.0.0.1", 0), _app, threads=2, header_timeout=5,
                             body_timeout=5, max_per_ip=0)
    with running(server):
        yield server


@pytest.fixture
def sends(monkeypatch: pytest.MonkeyPatch, server: DriveHTTPServer) -> list[bytes]:
    """Every block the server sends, in order."""
    sent: list[bytes] = []
    original = socket.socket.sendall
    port = server.bind_addr[1]

    def sendall(self: socket.socket, data: Any, *args: Any) -> None:
        if self.getsockname()[1] == port:  # the server's side of a connection
            sent.append(bytes(data))
        original(self, data, *args)

    monkeypatch.setattr(socket.socket, "sendall", sendall)
    return sent


def _read_answer(sock: socket.socket, body_length: int) -> tuple[bytes, bytes]:
    data = b""
    while b"\r\n\r\n" not in data or len(data.split(b"\r\n\r\n", 1)[1]) < body_length:
        chunk = sock.recv(65536)
        assert chunk, f"connection closed early: {data!r}"
        data += chunk
    head, body = data.split(b"\r\n\r\n", 1)
    return head, body


def _get(port: int, request: bytes, body_length: int) -> tuple[bytes, bytes]:
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.sendall(request)
        return _read_answer(sock, body_length)


def test_a_small_answer_is_one_send(server: DriveHTTPServer, sends: list[bytes]) -> None:
    head, body = _get(server.bind_addr[1], b"GET /small HTTP/1.1\r\nHost: x\r\n\r\n", 6)
    assert head.startswith(b"HTTP/1.1 200 ")
    assert body == b"/small"
    assert len(sends) == 1, sends
    assert sends[0].startswith(b"HTTP/1.1 200 ") and sends[0].endswith(b"\r\n\r\n/small")


def test_answers_without_a_body_are_not_held(server: DriveHTTPServer) -> None:
    """HEAD and 204: the client gets the whole head without closing its side."""
    port = server.bind_addr[1]
    head, body = _get(port, b"HEAD /small HTTP/1.1\r\nHost: x\r\n\r\n", 0)
    assert head.startswith(b"HTTP/1.1 200 ") and b"Content-Length: 6" in head
    assert body == b""
    head, body = _get(port, b"GET /empty HTTP/1.1\r\nHost: x\r\n\r\n", 0)
    assert head.startswith(b"HTTP/1.1 204 ") and body == b""


def test_continue_reaches_a_client_that_waits_for_it(server: DriveHTTPServer) -> None:
    with socket.create_connection(server.bind_addr[:2], timeout=5) as sock:
        sock.sendall(b"PUT /upload HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n"
                     b"Expect: 100-continue\r\n\r\n")
        interim = sock.recv(100)
        assert interim == b"HTTP/1.1 100 Continue\r\n\r\n"
        sock.sendall(b"hello")
        head, body = _read_answer(sock, 5)
    assert head.startswith(b"HTTP/1.1 201 ") and body == b"hello"


def test_large_and_chunked_answers_arrive_whole(
    server: DriveHTTPServer, sends: list[bytes]
) -> None:
    port = server.bind_addr[1]
    head, body = _get(port, b"GET /large HTTP/1.1\r\nHost: x\r\n\r\n", len(LARGE))
    assert head.startswith(b"HTTP/1.1 200 ") and body == LARGE
    # The head and the first 100 bytes leave together; the large rest after them.
    assert sends[0].endswith(b"\r\n\r\n" + LARGE[:100])
    sends.clear()
    expected = b"6\r\nfirst \r\n7\r\nsecond \r\n5\r\nthird\r\n0\r\n\r\n"
    head, body = _get(port, b"GET /chunked HTTP/1.1\r\nHost: x\r\n\r\n", len(expected))
    assert b"Transfer-Encoding: chunked" in head
    assert body == expected
    assert sends[0].endswith(b"\r\n\r\n6\r\nfirst \r\n")


def test_keep_alive_answers_stay_in_order(server: DriveHTTPServer) -> None:
    """Ten requests in one write: ten answers, each whole, in order."""
    with socket.create_connection(server.bind_addr[:2], timeout=5) as sock:
        sock.sendall(b"".join(
            f"GET /r{i} HTTP/1.1\r\nHost: x\r\n\r\n".encode() for i in range(10)))
        data = b""
        while data.count(b"HTTP/1.1 200 ") < 10 or not data.endswith(b"/r9"):
            chunk = sock.recv(65536)
            assert chunk
            data += chunk
    bodies = [part.split(b"\r\n\r\n", 1)[1] for part in data.split(b"HTTP/1.1 200 ")[1:]]
    assert bodies == [f"/r{i}".encode() for i in range(10)]
