"""The server's socket reader gives the same lines and bytes as a plain buffered reader.

``GuardedReader.readline`` cuts lines already in its buffer with one search (the
request head's lines, issue 12: the pure-Python reader peeked and copied several
times per line). Whatever the way the bytes arrive, lines, size limits and the
reads that follow must be exactly those of ``io.BufferedReader``.
"""

from __future__ import annotations

import io
import os
import socket
import threading

import pytest
from cheroot.server import KnownLengthRFile

from provider.body_input import GuardedInput
from provider.guarded_reader import GuardedReader

HEAD = (
    b"PUT /dav/a%20b.txt HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n"
    b"X-Long: " + b"v" * 300 + b"\r\n\r\nhello"
)


def _reader(pieces: list[bytes]) -> tuple[GuardedReader, threading.Thread]:
    """A reader whose peer sends ``pieces`` one by one (each its own segment)."""
    ours, theirs = socket.socketpair()

    def send() -> None:
        for piece in pieces:
            theirs.sendall(piece)
        theirs.close()

    sender = threading.Thread(target=send)
    sender.start()
    return GuardedReader(ours, 5.0), sender


def _script(reader: io.BufferedIOBase | GuardedReader) -> list[bytes]:
    """Lines of the head (some with a size limit), then the body, then the end."""
    got = [reader.readline(65536), reader.readline(), reader.readline(7)]
    got += [reader.readline(7), reader.readline(65536), reader.readline(65536)]
    got += [reader.readline(65536), reader.read(5), reader.readline()]
    return got


@pytest.mark.parametrize("cuts", [(), (3,), (20, 21, 60), tuple(range(1, len(HEAD)))])
def test_lines_and_bytes_are_those_of_a_plain_reader(cuts: tuple[int, ...]) -> None:
    bounds = [0, *cuts, len(HEAD)]
    pieces = [HEAD[a:b] for a, b in zip(bounds, bounds[1:], strict=False)]
    reader, sender = _reader(pieces)
    try:
        got = _script(reader)
    finally:
        sender.join()
    expected = _script(io.BufferedReader(io.BytesIO(HEAD)))  # type: ignore[arg-type]
    assert got == expected
    assert got[0] == b"PUT /dav/a%20b.txt HTTP/1.1\r\n"
    assert got[2] == b"Content" and got[3] == b"-Length"  # the size limit holds
    assert got[7] == b"hello" and got[8] == b""
    assert reader.bytes_read >= 5  # cheroot's count of body bytes still moves


@pytest.mark.parametrize("cuts", [(), (100,), (70_000, 70_001, 1_500_000)])
def test_a_known_length_body_read_into_buffers_is_exact(cuts: tuple[int, ...]) -> None:
    """A PUT body read with ``wsgi.input.readinto`` (issue 12: large uploads read into
    reused buffers, straight from the socket): the bytes of the body, whatever the
    pieces they arrive in, then the end of the body even though the next request's
    bytes follow; those are still there for the next ``readline``."""
    body = os.urandom(3 * 1024 * 1024 + 5)
    wire = b"PUT /x HTTP/1.1\r\n\r\n" + body + b"GET /next HTTP/1.1\r\n"
    bounds = [0, *cuts, len(wire)]
    reader, sender = _reader([wire[a:b] for a, b in zip(bounds, bounds[1:], strict=False)])
    try:
        assert reader.readline() == b"PUT /x HTTP/1.1\r\n" and reader.readline() == b"\r\n"
        stream = GuardedInput(KnownLengthRFile(reader, len(body)), {})
        buffer = bytearray(1024 * 1024)
        got = bytearray()
        while n := stream.readinto(buffer):
            got += buffer[:n]
        assert bytes(got) == body
        assert reader.readline() == b"GET /next HTTP/1.1\r\n"
    finally:
        sender.join()


def test_a_whole_head_is_taken_out_and_the_body_follows() -> None:
    """``take_head``: the head up to its empty line in one piece; the body is read
    after it as usual."""
    reader, sender = _reader([HEAD])
    try:
        head = reader.take_head(0)
        body = reader.read(5)
    finally:
        sender.join()
    assert head == HEAD[: HEAD.index(b"\r\n\r\n") + 4]
    assert body == b"hello"
    assert reader.bytes_read == len(HEAD)


@pytest.mark.parametrize(
    ("data", "limit"),
    [
        (HEAD, 40),  # longer than the limit
        (b"\r\n" + HEAD, 0),  # a leading empty line: the line reader's rule
    ],
)
def test_a_head_not_taken_whole_is_left_to_the_line_reader(data: bytes, limit: int) -> None:
    reader, sender = _reader([data])
    try:
        head = reader.take_head(limit)
        rest = reader.read(len(data))
    finally:
        sender.join()
    assert head is None
    assert rest == data  # nothing taken, nothing lost


def test_a_head_still_arriving_is_left_to_the_line_reader() -> None:
    ours, theirs = socket.socketpair()
    with ours, theirs:
        reader = GuardedReader(ours, 5.0)
        theirs.sendall(HEAD[:30])
        assert reader.take_head(0) is None
        theirs.sendall(HEAD[30:])
        assert reader.readline() == HEAD[: HEAD.index(b"\r\n") + 2]
        rest = HEAD[HEAD.index(b"\r\n") + 2 :]
        assert reader.read(len(rest)) == rest
