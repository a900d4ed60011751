"""Parse failures and error answers over the real server (issue 9, finding 10).

Finding 10: "Deep XML (over 256 levels) answers 400 with 'Internal error' and
logs a full traceback per request; a bad chunk size answers 500 with a
traceback; WsgiDAV/4.4.0 appears in HTML bodies." Rules: every parse failure
is a 400 with a clear message and one log line, never a traceback; no answer
names the software or its version.
"""

from __future__ import annotations

import logging
import re
import socket
import time

import pytest

from davdrive import __version__
from tests.conftest import LiveServer, basic
from tests.live.wire import Response, read_all, send_raw

pytestmark = pytest.mark.live

AUTH = basic("tester", "secret").encode()


def request(port: int, method: str, path: str, body: bytes = b"", *, auth: bytes | None = AUTH,
            extra: bytes = b"") -> Response:
    head = b"%s %s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nConnection: close\r\n" % (
        method.encode(), path.encode(), port)
    if auth is not None:
        head += b"Authorization: " + auth + b"\r\n"
    if body or method in ("PUT", "PROPFIND", "PROPPATCH", "LOCK"):
        head += b"Content-Length: %d\r\n" % len(body)
    wire = send_raw(port, head + extra + b"\r\n" + body)
    assert len(wire.responses) == 1, wire.data[:300]
    return wire.responses[0]


def chunked_put(port: int, path: str, body: bytes) -> Response:
    head = (b"PUT %s HTTP/1.1\r\nHost: x\r\nAuthorization: %s\r\nConnection: close\r\n"
            b"Transfer-Encoding: chunked\r\n\r\n" % (path.encode(), AUTH))
    wire = send_raw(port, head + body, timeout=5, half_close=True)
    assert len(wire.responses) == 1, wire.data[:300]
    return wire.responses[0]


def no_traceback(caplog: pytest.LogCaptureFixture, capfd: pytest.CaptureFixture[str]) -> None:
    tracebacks = [r for r in caplog.records if r.exc_info or "Traceback" in r.getMessage()]
    assert tracebacks == [], [r.getMessage() for r in tracebacks]
    assert "Traceback" not in capfd.readouterr().err


def deep_propfind(levels: int) -> bytes:
    return (b'<?xml version="1.0"?><D:propfind xmlns:D="DAV:"><D:prop>'
            + b"<a>" * levels + b"</a>" * levels + b"</D:prop></D:propfind>")


@pytest.mark.parametrize("levels", [70, 300, 1000])
def test_deep_xml_is_a_400_with_one_log_line(
    live: LiveServer, levels: int, caplog: pytest.LogCaptureFixture,
    capfd: pytest.CaptureFixture[str],
) -> None:
    """Finding 10: PROPFIND /dav/ whose body nests <a> 1000 levels deep."""
    caplog.set_level(logging.INFO)
    caplog.clear()
    reply = request(live.port, "PROPFIND", "/dav/", deep_propfind(levels),
                    extra=b"Depth: 0\r\n")
    assert reply.status == 400
    assert b"nests deeper than" in reply.body
    assert b"Internal error" not in reply.body
    time.sleep(0.2)
    mine = [r for r in caplog.records if "nests deeper" in r.getMessage()]
    assert len(mine) == 1
    no_traceback(caplog, capfd)


def test_xml_lxml_refuses_is_a_400_too(live: LiveServer, caplog: pytest.LogCaptureFixture,
                                       capfd: pytest.CaptureFixture[str]) -> None:
    """An XML body WsgiDAV's parser refuses never reaches it: 400, not 'Internal error'."""
    body = b'<?xml version="1.0"?><D:propfind xmlns:D="DAV:"><D:prop><x:y/></D:prop></D:propfind>'
    reply = request(live.port, "PROPFIND", "/dav/", body, extra=b"Depth: 0\r\n")
    assert reply.status == 400
    assert b"Internal error" not in reply.body
    no_traceback(caplog, capfd)


BAD_CHUNKS = {
    "not_hex": b"zz\r\nabc\r\n0\r\n\r\n",
    "negative": b"-5\r\nhello\r\n0\r\n\r\n",
    "plus_sign": b"+5\r\nhello\r\n0\r\n\r\n",
    "hex_prefix": b"0x5\r\nhello\r\n0\r\n\r\n",
    "underscore": b"5_0\r\nhello\r\n0\r\n\r\n",
    "overlong_hex": b"f" * 40 + b"\r\nhello\r\n0\r\n\r\n",
    "missing_crlf_after_data": b"5\r\nhelloXX0\r\n\r\n",
    "bare_lf": b"5\nhello\r\n0\r\n\r\n",
    "space_in_size": b"5 \r\nhello\r\n0\r\n\r\n",
    "truncated": b"5\r\nhel",  # and the client closes its side
}


@pytest.mark.parametrize("body", BAD_CHUNKS.values(), ids=BAD_CHUNKS.keys())
def test_bad_chunk_size_is_a_400_with_one_log_line_and_stores_nothing(
    live: LiveServer, body: bytes, caplog: pytest.LogCaptureFixture,
    capfd: pytest.CaptureFixture[str],
) -> None:
    """Finding 10: PUT /dav/chunk.txt with "Transfer-Encoding: chunked" and body "zz\\r\\n..."."""
    caplog.set_level(logging.INFO)
    caplog.clear()
    reply = chunked_put(live.port, "/dav/chunk.txt", body)
    assert reply.status == 400, reply.body
    assert b"Internal error" not in reply.body
    time.sleep(0.2)
    lines = [r for r in caplog.records if r.name.startswith("davdrive")
             and "chunk" in r.getMessage().lower() or "could not be read" in r.getMessage()]
    assert len(lines) == 1, [r.getMessage() for r in caplog.records]
    no_traceback(caplog, capfd)
    assert request(live.port, "GET", "/dav/chunk.txt").status == 404


def test_good_chunked_put_with_extension_and_trailer_is_stored(live: LiveServer) -> None:
    body = b"5;name=x\r\nhello\r\n6\r\n world\r\n0\r\nX-Trailer: 1\r\n\r\n"
    assert chunked_put(live.port, "/dav/good.txt", body).status == 201
    assert request(live.port, "GET", "/dav/good.txt").body == b"hello world"


def test_large_chunk_size_streams_in_pieces(live: LiveServer) -> None:
    """One chunk announcing 3 MB is stored whole (the reader does not need it in memory)."""
    data = bytes(range(256)) * (3 * 4096)
    body = b"%x\r\n%s\r\n0\r\n\r\n" % (len(data), data)
    assert chunked_put(live.port, "/dav/big.bin", body).status == 201
    assert request(live.port, "GET", "/dav/big.bin").body == data


# --- no product or library version in any answer ------------------------------------------------

FORBIDDEN = [
    re.compile(rb"wsgidav", re.IGNORECASE),
    re.compile(rb"cheroot", re.IGNORECASE),
    re.compile(rb"davdrive/\d", re.IGNORECASE),
    re.compile(rb"python/", re.IGNORECASE),
    re.compile(re.escape(__version__.encode())),
]
LOCK_BODY = (b'<?xml version="1.0"?><D:lockinfo xmlns:D="DAV:"><D:lockscope><D:exclusive/>'
             b"</D:lockscope><D:locktype><D:write/></D:locktype><D:owner>x</D:owner>"
             b"</D:lockinfo>")


def answers_of_every_kind(port: int) -> list[tuple[str, Response]]:
    r = lambda *a, **k: request(port, *a, **k)  # noqa: E731
    seen: list[tuple[str, Response]] = []

    def add(label: str, reply: Response, status: int | None = None) -> None:
        if status is not None:
            assert reply.status == status, (label, reply.status, reply.body[:200])
        seen.append((label, reply))

    add("options /", r("OPTIONS", "/", auth=None), 200)
    add("get /", r("GET", "/", auth=None), 200)
    add("put 201", r("PUT", "/dav/a.txt", b"hello"), 201)
    add("put 204", r("PUT", "/dav/a.txt", b"hello again"), 204)
    add("mkcol 201", r("MKCOL", "/dav/folder/"), 201)
    add("get dir 403-ish", r("GET", "/dav/folder/"))
    add("propfind 401", r("PROPFIND", "/dav/", auth=None, extra=b"Depth: 0\r\n"), 401)
    add("bad basic 400", r("PROPFIND", "/dav/", auth=b"Basic !!!", extra=b"Depth: 0\r\n"), 400)
    add("404", r("GET", "/dav/missing.txt"), 404)
    add("404 outside", r("GET", "/nothing"), 404)
    add("405 mkcol existing", r("MKCOL", "/dav/folder/"), 405)
    add("409 no parent", r("PUT", "/dav/no/such/parent.txt", b"x"), 409)
    add("412 if-match", r("PUT", "/dav/a.txt", b"x", extra=b'If-Match: "nope"\r\n'), 412)
    big = send_raw(port, b"PROPFIND /dav/ HTTP/1.1\r\nHost: x\r\nAuthorization: " + AUTH
                   + b"\r\nDepth: 0\r\nContent-Length: 99999999\r\n\r\n")
    add("413 xml", big.responses[0], 413)
    add("403 depth infinity", r("PROPFIND", "/dav/", extra=b"Depth: infinity\r\n"), 403)
    add("lock", r("LOCK", "/dav/a.txt", LOCK_BODY, extra=b"Timeout: Second-60\r\n"), 200)
    add("423", r("PUT", "/dav/a.txt", b"y"), 423)
    add("copy 201", r("COPY", "/dav/folder/", extra=b"Destination: /dav/folder2/\r\n"), 201)
    add("move 201", r("MOVE", "/dav/folder2/", extra=b"Destination: /dav/folder3/\r\n"), 201)
    add("delete 204", r("DELETE", "/dav/folder3/"), 204)
    add("delete /dav/ itself", r("DELETE", "/dav/"))
    add("bad xml 400", r("PROPFIND", "/dav/", b"<not-xml", extra=b"Depth: 0\r\n"), 400)
    add("bad path 400", r("GET", "/dav/%2e%2e/x"), 400)
    for label, raw in [
        ("bad request line", b"GET  / HTTP/1.1\r\nHost: x\r\n\r\n"),
        ("two lengths", b"PUT /dav/x HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\n"
                        b"Content-Length: 2\r\n\r\nab"),
        ("http/2", b"GET / HTTP/2.0\r\nHost: x\r\n\r\n"),
    ]:
        wire = send_raw(port, raw)
        add(label, wire.responses[0], None)
    return seen


def test_no_answer_names_the_software_or_its_version(live: LiveServer) -> None:
    """Finding 10: "WsgiDAV/4.4.0 appears in HTML bodies" (and davdrive/0.1.0 in Server)."""
    for label, reply in answers_of_every_kind(live.port):
        texts = [reply.body] + [f"{k}: {v}".encode("latin-1") for k, v in reply.headers.items()]
        for text in texts:
            for pattern in FORBIDDEN:
                assert not pattern.search(text), (label, pattern.pattern, text[:300])


def test_the_timeout_answer_names_no_software(live: LiveServer) -> None:
    """cheroot's own answers (here a 408 after a stalled head) carry no Server version."""
    with socket.create_connection(("127.0.0.1", live.port), timeout=30) as sock:
        sock.sendall(b"GET / HTTP/1.1\r\n")
        wire = read_all(sock, 15)
    for pattern in FORBIDDEN:
        assert not pattern.search(wire.data), pattern.pattern


def test_bad_chunks_in_an_xml_body_are_a_400(live: LiveServer) -> None:
    """PROPFIND /dav/ with a chunked body whose chunk size is "zz": 400, not 500."""
    head = (b"PROPFIND /dav/ HTTP/1.1\r\nHost: x\r\nAuthorization: %s\r\nDepth: 0\r\n"
            b"Transfer-Encoding: chunked\r\nConnection: close\r\n\r\nzz\r\n<a/>\r\n0\r\n\r\n"
            % AUTH)
    wire = send_raw(live.port, head, half_close=True)
    assert wire.statuses == [400]
    assert b"Internal error" not in wire.data


def test_a_large_download_to_a_slow_reader_arrives_whole(live: LiveServer) -> None:
    """The answer to a request read in one piece is written with normal (blocking) sends."""
    data = bytes(range(256)) * (16 * 4096)  # 16 MiB
    body = b"%x\r\n%s\r\n0\r\n\r\n" % (len(data), data)
    assert chunked_put(live.port, "/dav/large.bin", body).status == 201
    with socket.create_connection(("127.0.0.1", live.port), timeout=30) as sock:
        sock.sendall(b"GET /dav/large.bin HTTP/1.1\r\nHost: x\r\nAuthorization: " + AUTH
                     + b"\r\nConnection: close\r\n\r\n")
        time.sleep(1.5)  # the server's send buffer fills up meanwhile
        wire = read_all(sock, 30)
    assert wire.statuses == [200]
    assert wire.responses[0].body == data
