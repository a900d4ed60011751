"""The gateway builds cheroot's environ and answer headers, with less work (issue 12).

``DriveGateway.get_environ`` and ``start_response`` replace cheroot's to save
CPU on every request; what the application sees and what the client gets must
not change. Real requests through the real server: the environ built both
ways is compared key by key; ``start_response`` is compared with cheroot's on
the same headers, including its refusals.
"""

from __future__ import annotations

import socket
from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any

import pytest
from cheroot import wsgi

from provider.http_server import DriveHTTPServer
from provider.wsgi_gateway import DriveGateway
from tests.conftest import running

pytestmark = pytest.mark.live

REQUESTS = [
    b"GET /a%20b/c%2Fd?x=1&y=%20 HTTP/1.1\r\nHost: example.org:8080\r\n"
    b"User-Agent: ua/1\r\nX-Custom-Thing: v\xe9\r\nAccept: */*\r\n\r\n",
    b"PUT /up.txt HTTP/1.1\r\nHost: x\r\nContent-Type: text/plain\r\n"
    b"Content-Length: 3\r\nIf-Match: *\r\nDepth: 0\r\n\r\nabc",
    b"PROPFIND /dav/ HTTP/1.0\r\nConnection: keep-alive\r\nDepth: 1\r\n"
    b"Content-Length: 0\r\n\r\n",
    b"OPTIONS * HTTP/1.1\r\nHost: x\r\nAccept-Encoding: gzip, deflate\r\n"
    b"Accept-Encoding: br\r\n\r\n",
]


class ComparingGateway(DriveGateway):
    """Records the environ cheroot would have built next to ours."""

    seen: list[tuple[dict[str, Any], dict[str, Any]]] = []

    def get_environ(self) -> dict[str, Any]:  # type: ignore[override]
        ours = super().get_environ()
        theirs = wsgi.Gateway_10.get_environ(self)
        self.seen.append((ours, theirs))
        return ours


def _app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
    length = int(environ.get("CONTENT_LENGTH") or 0)
    environ["wsgi.input"].read(length)
    start_response("200 OK", [("Content-Length", "2")])
    return [b"ok"]


@pytest.fixture
def server() -> Iterator[DriveHTTPServer]:
    server = DriveHTTPServer(("127.0.0.1", 0), _app, threads=2, header_timeout=5,
                             body_timeout=5, max_per_ip=0)
    server.gateway = ComparingGateway
    ComparingGateway.seen = []
    with running(server):
        yield server


@pytest.mark.parametrize("request_bytes", REQUESTS)
def test_the_environ_is_cheroots(server: DriveHTTPServer, request_bytes: bytes) -> None:
    with socket.create_connection(server.bind_addr[:2], timeout=5) as sock:
        sock.sendall(request_bytes)
        answer = b""
        while not answer.endswith(b"ok"):
            chunk = sock.recv(4096)
            assert chunk, answer
            answer += chunk
    assert len(ComparingGateway.seen) == 1
    ours, theirs = ComparingGateway.seen[0]
    assert ours.pop("wsgi.file_wrapper") is not None
    assert ours == theirs
    assert ours["wsgi.input"] is theirs["wsgi.input"]


def _request() -> Any:
    return SimpleNamespace(sent_headers=False, outheaders=[], status=None)


def _start(kind: type, headers: Any, exc_info: Any = None) -> tuple[Any, ...]:
    """What ``kind.start_response`` leaves behind, or the error it raises."""
    gateway = object.__new__(kind)
    gateway.req = _request()
    gateway.started_response = False
    gateway.remaining_bytes_out = None
    try:
        kind.start_response(gateway, "207 Multi-Status", headers, exc_info)
    except (TypeError, ValueError, UnicodeError) as exc:
        return (type(exc),)
    return (gateway.req.status, gateway.req.outheaders, gateway.remaining_bytes_out)


@pytest.mark.parametrize(
    "headers",
    [
        [("Content-Type", "text/xml"), ("CONTENT-LENGTH", "12"), ("X-A", "caf\xe9")],
        [("Content-Length", "x")],
        [("Content-Type", b"text/xml")],
        [(b"Content-Type", "text/xml")],
        [("X-Bad", "\u20ac")],
        [],
    ],
)
def test_answer_headers_are_cheroots(headers: Any) -> None:
    assert _start(DriveGateway, headers) == _start(wsgi.Gateway_10, headers)


def test_a_second_start_response_needs_exc_info() -> None:
    gateway = object.__new__(DriveGateway)
    gateway.req = _request()
    gateway.started_response = True
    gateway.remaining_bytes_out = None
    with pytest.raises(RuntimeError):
        gateway.start_response("200 OK", [])
