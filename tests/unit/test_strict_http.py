"""The strict request-head rules and the chunked reader, without a server (finding 3, 10)."""

from __future__ import annotations

import io

import pytest
from hypothesis import given
from hypothesis import strategies as st

from provider.chunked import StrictChunkedReader
from provider.strict_http import BadRequest, check_framing, parse_request_line, read_fields

NO_HOSTS: frozenset[str] = frozenset()


def fields(*lines: bytes) -> list[tuple[bytes, bytes]]:
    return read_fields(io.BytesIO(b"".join(line + b"\r\n" for line in lines) + b"\r\n"))


def test_a_plain_request_line_is_split() -> None:
    assert parse_request_line(b"PROPFIND /dav/a%20b HTTP/1.1\r\n") == (
        b"PROPFIND", b"/dav/a%20b", (1, 1)
    )


@pytest.mark.parametrize("line", [b"GET / HTTP/1.1", b"GET /  HTTP/1.1\r\n", b"GET / HTTP/1\r\n"])
def test_request_line_rule_exactly_method_sp_target_sp_version_crlf(line: bytes) -> None:
    with pytest.raises(BadRequest):
        parse_request_line(line)


def test_request_line_rule_other_major_versions_get_505() -> None:
    with pytest.raises(BadRequest) as caught:
        parse_request_line(b"GET / HTTP/2.0\r\n")
    assert caught.value.status.startswith("505")


def test_field_rule_names_are_lowercased_and_values_trimmed() -> None:
    assert fields(b"Content-Type:  text/plain \t", b"Depth:1") == [
        (b"content-type", b"text/plain"), (b"depth", b"1")
    ]


@pytest.mark.parametrize(
    "line", [b"A : b", b"A\t: b", b"A(: b", b" folded", b"nocolon", b"A: b\x01"]
)
def test_field_rule_refuses_whitespace_before_colon_bad_names_folds_controls(line: bytes) -> None:
    with pytest.raises(BadRequest):
        fields(b"Host: x", line)


def test_field_rule_a_head_without_its_empty_line_is_refused() -> None:
    with pytest.raises(BadRequest):
        read_fields(io.BytesIO(b"Host: x\r\n"))


@pytest.mark.parametrize(
    "lines",
    [
        [b"Host: x", b"Content-Length: 1", b"Content-Length: 1"],
        [b"Host: x", b"Content-Length: 1", b"Transfer-Encoding: chunked"],
        [b"Host: x", b"Transfer-Encoding: gzip"],
        [b"Host: x", b"Transfer-Encoding: chunked", b"Transfer-Encoding: chunked"],
        [b"Host: x", b"Content-Length: 1e3"],
        [b"Host: x", b"Host: y"],
        [b"Content-Length: 0"],
        [b"Host: a b"],
    ],
)
def test_framing_rule_ambiguous_messages_are_refused(lines: list[bytes]) -> None:
    with pytest.raises(BadRequest):
        check_framing(fields(*lines), (1, 1), NO_HOSTS)


def test_framing_rule_transfer_encoding_is_refused_on_http_1_0() -> None:
    with pytest.raises(BadRequest):
        check_framing(fields(b"Transfer-Encoding: chunked"), (1, 0), NO_HOSTS)
    check_framing(fields(b"Content-Length: 3"), (1, 0), NO_HOSTS)  # no Host needed in 1.0


@pytest.mark.parametrize("host", [b"drive.example.org", b"DRIVE.example.org:443"])
def test_host_rule_allowed_names_match_without_port_and_case(host: bytes) -> None:
    check_framing(fields(b"Host: " + host), (1, 1), frozenset({"drive.example.org"}))


def test_host_rule_other_names_get_421() -> None:
    with pytest.raises(BadRequest) as caught:
        check_framing(fields(b"Host: [::1]:8080"), (1, 1), frozenset({"drive.example.org"}))
    assert caught.value.status.startswith("421")


def encode_chunked(data: bytes, cuts: list[int]) -> bytes:
    pieces, start = [], 0
    for cut in sorted(set(c % (len(data) + 1) for c in cuts)) + [len(data)]:
        if cut > start:
            pieces.append(data[start:cut])
            start = cut
    return b"".join(b"%x\r\n%s\r\n" % (len(p), p) for p in pieces) + b"0\r\n\r\n"


@given(st.binary(max_size=3000), st.lists(st.integers(min_value=0, max_value=3000), max_size=8),
       st.integers(min_value=1, max_value=700))
def test_chunked_rule_any_valid_encoding_reads_back_the_data(
    data: bytes, cuts: list[int], size: int
) -> None:
    reader = StrictChunkedReader(io.BytesIO(encode_chunked(data, cuts) + b"NEXT"))
    out = b""
    while piece := reader.read(size):
        out += piece
    assert out == data
    assert reader.closed
    lines = StrictChunkedReader(io.BytesIO(encode_chunked(data, cuts)))
    assert b"".join(iter(lines)) == data


@pytest.mark.parametrize(
    "body", [b"zz\r\n", b"-1\r\n", b"+1\r\na\r\n0\r\n\r\n", b"1" * 16 + b"\r\n", b"1\r\nab\r\n",
             b"1\r\na", b"", b"1 \r\na\r\n0\r\n\r\n"],
)
def test_chunked_rule_malformed_bodies_raise_value_error(body: bytes) -> None:
    with pytest.raises(ValueError):
        StrictChunkedReader(io.BytesIO(body)).read(100)


def test_chunked_rule_a_huge_announced_chunk_is_read_as_asked() -> None:
    source = io.BytesIO(b"fffffffffffffff\r\n" + b"x" * 200_000)
    reader = StrictChunkedReader(source)
    assert reader.read(1000) == b"x" * 1000
    assert source.tell() < 2000, "the reader must not pull in the whole announced chunk"
