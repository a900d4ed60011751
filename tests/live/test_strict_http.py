"""Request smuggling and malformed framing against the real server (issue 9, finding 3).

Finding 3: "with two Content-Length headers the last wins, `Transfer-Encoding :
chunked` (space before the colon) is honoured, TE is accepted on HTTP/1.0; one
TCP message gave two responses". Rule (RFC 9112 section 6 and 11.2): a message
whose framing is ambiguous is answered 400 and the connection is closed, so
one TCP message never gives more than one response.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from davdrive.passwords import Passwords
from davdrive.runtime import open_runtime
from davdrive.server import create_app
from davdrive.settings import Settings
from tests.conftest import LiveServer, add_user, basic, serving
from tests.live.wire import send_raw

pytestmark = pytest.mark.live

AUTH = basic("tester", "secret").encode()


def head(port: int, first: bytes = b"PROPFIND /dav/ HTTP/1.1", *lines: bytes,
         host: bool = True, auth: bool = True) -> bytes:
    out = first + b"\r\n"
    if host:
        out += b"Host: 127.0.0.1:%d\r\n" % port
    if auth:
        out += b"Authorization: " + AUTH + b"\r\n"
    return out + b"".join(line + b"\r\n" for line in lines) + b"\r\n"


def smuggled(port: int) -> bytes:
    """A second, complete request, which a desynchronised parser would answer too."""
    return head(port, b"GET /dav/ HTTP/1.1", b"Connection: close")


def assert_refused_and_closed(wire_data: object, status: int = 400) -> None:
    wire = wire_data
    assert wire.statuses == [status], wire.data[:400]  # type: ignore[attr-defined]
    assert wire.closed, "the connection must be closed after a framing error"  # type: ignore[attr-defined]


# --- the finding, request by request ----------------------------------------------------------


def test_two_content_lengths_cl_cl_give_one_400_and_close(live: LiveServer) -> None:
    """PUT /dav/cl.txt with "Content-Length: 0" and "Content-Length: 39": one answer, 400."""
    tail = smuggled(live.port)
    data = head(
        live.port, b"PUT /dav/cl.txt HTTP/1.1",
        b"Content-Length: 0", b"Content-Length: %d" % len(tail),
    ) + tail
    assert_refused_and_closed(send_raw(live.port, data))
    assert send_raw(live.port, head(live.port, b"GET /dav/cl.txt HTTP/1.1",
                                    b"Connection: close")).statuses == [404]


def test_cl_te_with_space_before_colon_gives_one_400(live: LiveServer) -> None:
    """PUT with "Content-Length: 5" and "Transfer-Encoding : chunked" (the finding)."""
    tail = smuggled(live.port)
    data = head(
        live.port, b"PUT /dav/te.txt HTTP/1.1",
        b"Content-Length: 5", b"Transfer-Encoding : chunked",
    ) + b"0\r\n\r\n" + tail
    assert_refused_and_closed(send_raw(live.port, data))


def test_te_cl_gives_one_400(live: LiveServer) -> None:
    """TE.CL: "Transfer-Encoding: chunked" plus "Content-Length: 4" is refused."""
    tail = smuggled(live.port)
    chunk = b"%x\r\n%s\r\n0\r\n\r\n" % (len(tail), tail)
    data = head(
        live.port, b"PUT /dav/tecl.txt HTTP/1.1",
        b"Transfer-Encoding: chunked", b"Content-Length: 4",
    ) + chunk
    assert_refused_and_closed(send_raw(live.port, data))


def test_transfer_encoding_on_http_1_0_gives_400(live: LiveServer) -> None:
    """PUT ... HTTP/1.0 with "Transfer-Encoding: chunked" (TE does not exist in 1.0)."""
    data = head(
        live.port, b"PUT /dav/old.txt HTTP/1.0", b"Transfer-Encoding: chunked",
    ) + b"3\r\nabc\r\n0\r\n\r\n" + smuggled(live.port)
    assert_refused_and_closed(send_raw(live.port, data))


def test_pipelined_valid_requests_still_get_one_answer_each(live: LiveServer) -> None:
    """Control: the response counting above does see two answers when there are two."""
    first = head(live.port, b"PROPFIND /dav/ HTTP/1.1", b"Depth: 0", b"Content-Length: 0")
    wire = send_raw(live.port, first + smuggled(live.port))
    assert len(wire.statuses) == 2
    assert wire.statuses[0] == 207


# --- each framing rule ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "value",
    [b"abc", b"+5", b"-1", b"", b"5, 5", b"0x10", b"1 2", b"99999999999999999999", b"\xd9\xa5"],
)
def test_malformed_content_length_gives_400(live: LiveServer, value: bytes) -> None:
    data = head(live.port, b"PUT /dav/m.txt HTTP/1.1", b"Content-Length: " + value) + b"hello"
    assert_refused_and_closed(send_raw(live.port, data))


def test_duplicate_equal_content_lengths_are_refused_too(live: LiveServer) -> None:
    """RFC 9112 6.3 lets a server accept identical values; refusing is the safer choice."""
    data = head(live.port, b"PUT /dav/d.txt HTTP/1.1",
                b"Content-Length: 5", b"Content-Length: 5") + b"hello"
    assert_refused_and_closed(send_raw(live.port, data))


@pytest.mark.parametrize(
    "line",
    [
        b"Content-Length : 5",
        b"Content-Length\t: 5",
        b"Depth : 0",
        b"X(Bad): 1",
        b"X Bad: 1",
        b"X\x00Bad: 1",
        b": no-name",
        b"no-colon-at-all",
    ],
)
def test_bad_field_names_give_400(live: LiveServer, line: bytes) -> None:
    data = head(live.port, b"PROPFIND /dav/ HTTP/1.1", b"Depth: 1", line)
    assert_refused_and_closed(send_raw(live.port, data))


def test_obs_fold_continuation_line_gives_400(live: LiveServer) -> None:
    data = head(live.port, b"PROPFIND /dav/ HTTP/1.1", b"Depth: 1", b"X-Long: a", b" b")
    assert_refused_and_closed(send_raw(live.port, data))


@pytest.mark.parametrize(
    "coding", [b"gzip, chunked", b"chunked, gzip", b"identity", b"xchunked", b"chunked;q=1"]
)
def test_transfer_encoding_other_than_chunked_gives_400(live: LiveServer, coding: bytes) -> None:
    data = head(live.port, b"PUT /dav/t.txt HTTP/1.1",
                b"Transfer-Encoding: " + coding) + b"0\r\n\r\n"
    assert_refused_and_closed(send_raw(live.port, data))


@pytest.mark.parametrize(
    "line",
    [
        b"PROPFIND  /dav/ HTTP/1.1",
        b"PROPFIND /dav/  HTTP/1.1",
        b"PROPFIND /dav/ HTTP/1.1 ",
        b"PROPFIND\t/dav/ HTTP/1.1",
        b" PROPFIND /dav/ HTTP/1.1",
        b"PROPFIND /dav/ HTTP/1.x",
        b"PROPFIND /dav/ HTTP/11",
        b"PROPFIND /dav/ http/1.1",
        b"PROPFIND /dav/HTTP/1.1",
        b"PROP(FIND /dav/ HTTP/1.1",
        b"PROPFIND /dav/\x01 HTTP/1.1",
        b"PROPFIND http://elsewhere.example/dav/ HTTP/1.1",
    ],
)
def test_malformed_request_line_gives_400(live: LiveServer, line: bytes) -> None:
    data = head(live.port, line, b"Depth: 0")
    assert_refused_and_closed(send_raw(live.port, data))


def test_http_2_request_line_gets_505(live: LiveServer) -> None:
    assert_refused_and_closed(send_raw(live.port, head(live.port, b"GET / HTTP/2.0")), 505)


def test_missing_host_on_http_1_1_gives_400_but_http_1_0_may_omit_it(live: LiveServer) -> None:
    assert_refused_and_closed(
        send_raw(live.port, head(live.port, b"PROPFIND /dav/ HTTP/1.1", b"Depth: 0",
                                 host=False))
    )
    wire = send_raw(live.port, head(live.port, b"PROPFIND /dav/ HTTP/1.0", b"Depth: 0",
                                    host=False))
    assert wire.statuses == [207]


def test_two_host_headers_give_400(live: LiveServer) -> None:
    data = head(live.port, b"PROPFIND /dav/ HTTP/1.1", b"Depth: 0", b"Host: evil.example")
    assert_refused_and_closed(send_raw(live.port, data))


@pytest.mark.parametrize("name", [b"Authorization", b"Destination", b"Depth", b"Overwrite"])
def test_repeated_singleton_headers_give_400(live: LiveServer, name: bytes) -> None:
    data = head(live.port, b"PROPFIND /dav/ HTTP/1.1", name + b": 0", name + b": 1")
    if name == b"Authorization":
        data = head(live.port, b"PROPFIND /dav/ HTTP/1.1", b"Depth: 0",
                    b"Authorization: " + basic("other", "x").encode())
    assert_refused_and_closed(send_raw(live.port, data))


def test_underscore_header_cannot_pose_as_its_dash_twin(live: LiveServer) -> None:
    """WSGI maps X_Forwarded_For and X-Forwarded-For to one variable: the first is dropped."""
    data = head(live.port, b"PROPFIND /dav/ HTTP/1.1", b"Depth: 0", b"Connection: close",
                b"Content_Length: 5")
    wire = send_raw(live.port, data)
    assert wire.statuses == [207]


@pytest.fixture
def host_limited(settings: Settings, fast_passwords: Passwords, tmp_path: Path):  # type: ignore[no-untyped-def]
    limited = settings.replace(**{
        "server.allowed_hosts": ["drive.example.org"],
        "data_dir": str(tmp_path / "hosts" / "data"),
    })
    rt = open_runtime(limited, fast_passwords)
    add_user(rt, "tester", "secret")
    with serving(create_app(limited, rt)) as live:
        yield live
    rt.close()


def test_host_outside_allowed_hosts_gets_421(host_limited: LiveServer) -> None:
    port = host_limited.port
    data = head(port, b"PROPFIND /dav/ HTTP/1.1", b"Depth: 0")  # Host: 127.0.0.1:port
    assert_refused_and_closed(send_raw(port, data), 421)
    good = (b"PROPFIND /dav/ HTTP/1.1\r\nHost: Drive.Example.org:8443\r\nAuthorization: "
            + AUTH + b"\r\nDepth: 0\r\nConnection: close\r\n\r\n")
    assert send_raw(port, good).statuses == [207]
