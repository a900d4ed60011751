"""The whole-head parse gives what cheroot's line-by-line parse gives (issue 12).

``origin_target`` sets cheroot's request attributes for common request lines
without running cheroot's parser, and ``split_fields`` cuts a head's field
block in one split. Both must agree exactly with the code they stand in for:
cheroot's ``read_request_line`` after the strict request-line rule, and
``read_fields`` (same fields, or a refusal for the same heads).
"""

from __future__ import annotations

import io
from typing import Any

import pytest
from cheroot import server as cheroot_server
from hypothesis import given
from hypothesis import strategies as st

from provider.request_target import origin_target
from provider.strict_http import BadRequest, parse_request_line, read_fields, split_fields

ATTRIBUTES = ("uri", "method", "authority", "path", "qs", "request_protocol",
              "response_protocol")


class _Server:
    protocol = "HTTP/1.1"
    max_request_header_size = 0
    max_request_body_size = 0
    proxy_mode = False
    ssl_adapter = None


def _cheroot(line: bytes) -> dict[str, Any] | None:
    """cheroot's attributes for ``line``, or None when cheroot refuses it."""
    answers: list[str] = []
    request = cheroot_server.HTTPRequest(_Server(), None)
    request.rfile = io.BytesIO(line)
    request.simple_response = lambda status, msg="": answers.append(status)  # type: ignore[method-assign]
    if not request.read_request_line():
        return None
    return {name: getattr(request, name) for name in ATTRIBUTES}


def _ours(line: bytes) -> dict[str, Any] | None:
    method, target, version = parse_request_line(line)
    return origin_target(method, target, version, "HTTP/1.1")


@pytest.mark.parametrize(
    "line",
    [
        b"GET / HTTP/1.1\r\n",
        b"GET /dav/a%20b.txt HTTP/1.1\r\n",
        b"PROPFIND /dav/x%2Fy/%2fz/ HTTP/1.0\r\n",
        b"PUT /dav/caf%C3%A9?x=1&y=%20 HTTP/1.1\r\n",
        b"GET /a;b:c@d HTTP/1.1\r\n",
        b"GET /a?b?c HTTP/1.1\r\n",
        b"MKCOL /%zz HTTP/1.1\r\n",
    ],
)
def test_common_lines_get_cheroots_attributes(line: bytes) -> None:
    ours = _ours(line)
    assert ours is not None
    assert ours == _cheroot(line)


@pytest.mark.parametrize(
    "line",
    [
        b"OPTIONS * HTTP/1.1\r\n",
        b"OPTIONS /dav/ HTTP/1.1\r\n",
        b"get / HTTP/1.1\r\n",
        b"GET //evil/x HTTP/1.1\r\n",
        b"GET http://h/x HTTP/1.1\r\n",
        b"GET /a#frag HTTP/1.1\r\n",
        b"GET x HTTP/1.1\r\n",
        b"GET / HTTP/1.2\r\n",
    ],
)
def test_other_lines_are_left_to_cheroot(line: bytes) -> None:
    assert _ours(line) is None


_TARGET_CHARS = st.sampled_from(list("/abz09;:@?=&+~.-_%")) | st.sampled_from(
    ["%2F", "%2f", "%20", "%C3%A9", "%zz", "%4", "//"]
)


@given(st.lists(_TARGET_CHARS, max_size=12), st.sampled_from([b"GET", b"PUT", b"PROPFIND"]))
def test_any_origin_target_gets_cheroots_attributes(parts: list[str], method: bytes) -> None:
    line = method + b" /" + "".join(parts).encode() + b" HTTP/1.1\r\n"
    ours = _ours(line)
    if ours is not None:
        assert ours == _cheroot(line)


def _both(block: bytes) -> tuple[Any, Any]:
    def run(parse: Any) -> Any:
        try:
            return parse()
        except BadRequest:
            return "refused"
    return (run(lambda: read_fields(io.BytesIO(block))), run(lambda: split_fields(block)))


@pytest.mark.parametrize(
    "block",
    [
        b"\r\n",
        b"Host: x\r\nDepth:  1 \t\r\n\r\n",
        b"Host: x\r\n folded\r\n\r\n",
        b"Host : x\r\n\r\n",
        b"Host: x\nDepth: 1\r\n\r\n",
        b"Host: x\r\nBad: a\x01b\r\n\r\n",
        b"NoColon\r\n\r\n",
        b"".join(b"X-%d: v\r\n" % i for i in range(201)) + b"\r\n",
        b"".join(b"X-%d: v\r\n" % i for i in range(200)) + b"\r\n",
    ],
)
def test_field_blocks_split_as_the_line_reader_reads_them(block: bytes) -> None:
    by_lines, split = _both(block)
    assert split == by_lines


@given(st.lists(st.sampled_from([b"Host: x", b"A:b", b" c", b"D : e", b"F: \x00",
                                 b"G:\th\t", b"x", b"", b"\n"]), max_size=6))
def test_any_field_block_splits_as_the_line_reader_reads_it(lines: list[bytes]) -> None:
    block = b"".join(line + b"\r\n" for line in lines) + b"\r\n"
    head = b"GET / HTTP/1.1\r\n" + block
    if head.index(b"\r\n\r\n") + 4 != len(head):
        return  # an empty line inside: the head ends there, no such block reaches us
    by_lines, split = _both(block)
    assert split == by_lines
