"""HEAD answers carry headers only, errors included (issue 10).

Rule (RFC 9110 9.3.2): the server MUST NOT send content in the response to
HEAD. A body after a HEAD answer is read by the client as the start of the
next response on the keep-alive connection (BadStatusLine). Requests replayed:
``HEAD /dav/missing.txt`` then ``GET /dav/present.txt`` on one connection, and
HEAD of every kind of error and of ``/``.
"""

from __future__ import annotations

import pytest

from tests.conftest import LiveServer, basic
from tests.live.wire import send_raw

pytestmark = pytest.mark.live

AUTH = b"Authorization: " + basic("tester", "secret").encode() + b"\r\n"
NEXT = b"OPTIONS / HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"


def head_then(port: int, target: bytes, headers: bytes, following: bytes) -> tuple[bytes, bytes]:
    """Send HEAD ``target`` and ``following`` on one connection; (HEAD's header block, rest)."""
    wire = send_raw(port, b"HEAD " + target + b" HTTP/1.1\r\nHost: 127.0.0.1\r\n" + headers
                    + b"\r\n" + following)
    head, sep, rest = wire.data.partition(b"\r\n\r\n")
    assert sep, wire.data[:300]
    return head, rest


def put(live: LiveServer, path: bytes, body: bytes) -> None:
    request = (b"PUT " + path + b" HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n" + AUTH
               + b"Content-Length: %d\r\n\r\n" % len(body) + body)
    assert send_raw(live.port, request).statuses == [201]


def test_head_of_missing_file_then_get_on_the_same_connection(live: LiveServer) -> None:
    """HEAD /dav/missing.txt, then GET /dav/present.txt on the same keep-alive connection."""
    put(live, b"/dav/present.txt", b"present content")
    get = (b"GET /dav/present.txt HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n" + AUTH
           + b"\r\n")
    head, rest = head_then(live.port, b"/dav/missing.txt", AUTH, get)
    assert head.startswith(b"HTTP/1.1 404 "), head
    assert rest.startswith(b"HTTP/1.1 200 "), rest[:200]
    assert rest.endswith(b"\r\n\r\npresent content")


def test_head_of_a_file_announces_its_size_without_sending_it(live: LiveServer) -> None:
    put(live, b"/dav/sized.txt", b"0123456789")
    head, rest = head_then(live.port, b"/dav/sized.txt", AUTH, NEXT)
    assert head.startswith(b"HTTP/1.1 200 ")
    assert b"\r\nContent-Length: 10" in head
    assert rest.startswith(b"HTTP/1.1 200 "), rest[:200]


@pytest.mark.parametrize(
    ("target", "headers", "status"),
    [
        pytest.param(b"/", b"", b"200", id="home"),
        pytest.param(b"/dav/", AUTH, b"200", id="folder"),
        pytest.param(b"/dav/missing.txt", AUTH, b"404", id="missing"),
        pytest.param(b"/dav/x.txt", b"", b"401", id="no-credentials"),
        pytest.param(b"/dav/x.txt", b"Authorization: Basic !!!\r\n", b"400", id="bad-basic"),
        pytest.param(b"/dav/%2e%2e/etc/passwd", AUTH, b"400", id="dot-segment"),
        pytest.param(b"/elsewhere", b"", b"404", id="outside-mount"),
        pytest.param(b"/dav/x.txt", AUTH + b"Content-Length: 3\r\n", b"415", id="with-body"),
        pytest.param(b"/dav/backoffice/nothing-here", AUTH, b"404", id="backoffice-missing"),
        pytest.param(b"/dav/present.txt", AUTH + b'If-Match: "not-this-one"\r\n', b"412",
                     id="if-match-fails"),
        pytest.param(b"/dav/present.txt", AUTH + b"X-Padding: " + b"a" * (70 * 1024) + b"\r\n",
                     b"431", id="huge-headers"),
    ],
)
def test_every_head_answer_has_no_body(
    live: LiveServer, target: bytes, headers: bytes, status: bytes
) -> None:
    """HEAD of errors and of / : the next bytes on the connection are the next answer."""
    put(live, b"/dav/present.txt", b"present content")
    following = (b"abc" if b"Content-Length: 3" in headers else b"") + NEXT
    head, rest = head_then(live.port, target, headers, following)
    assert head.split(b" ")[1] == status, head
    if b"\r\nConnection: close" in head:
        assert rest == b"", (head, rest[:200])  # the server ends the connection there
    else:
        assert rest.startswith(b"HTTP/1.1 200 "), (head, rest[:200])
        assert rest.count(b"HTTP/1.1 ") == 1
