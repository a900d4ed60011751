"""Reading a connection under deadlines, in one buffer search per head line.

``GuardedReader`` is cheroot's socket reader over a ``GuardedSocketIO``: reads
of the request head run under a deadline, reads of a body under an idle
timeout; bytes the head waiter already read come first. Large reads and
``readinto`` go straight from the socket into the caller's buffer;
``readline`` cuts a line out of the buffer with one search; ``take_head``
takes a whole request head out of it.
"""

from __future__ import annotations

import _pyio
import socket
import time
from typing import Any

from cheroot.makefile import StreamReader

DIRECT_READ_MIN = 64 * 1024  # reads from this size bypass the buffered reader
HEAD_END = b"\r\n\r\n"


class GuardedSocketIO(socket.SocketIO):
    """Socket reads under a deadline (request head) or an idle timeout (body).

    ``prefix`` holds bytes the head waiter already read from the socket; they
    are returned before anything else.
    """

    def __init__(self, sock: socket.socket, idle_timeout: float) -> None:
        super().__init__(sock, "rb")
        self.idle_timeout = idle_timeout
        self.deadline: float | None = None
        self.prefix = bytearray()

    def readinto(self, b: Any) -> int | None:
        if self.prefix:
            n = min(len(b), len(self.prefix))
            b[:n] = self.prefix[:n]
            del self.prefix[:n]
            return n
        timeout = self.idle_timeout
        if self.deadline is not None:
            remaining = self.deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError("timed out")
            timeout = min(timeout, remaining)
        sock: socket.socket = self._sock  # type: ignore[attr-defined]
        if sock.gettimeout() != timeout:  # a body's reads: set once, not per read
            sock.settimeout(timeout)
        return super().readinto(b)


class GuardedReader(StreamReader):  # type: ignore[misc]
    """cheroot's socket reader over a ``GuardedSocketIO``."""

    def __init__(self, sock: socket.socket, idle_timeout: float) -> None:
        _pyio.BufferedReader.__init__(self, GuardedSocketIO(sock, idle_timeout))
        self.bytes_read = 0

    def read(self, size: int | None = -1) -> bytes:
        """``size`` bytes (fewer only at the end of the stream). A large read fills one
        buffer straight from the socket: the pure-Python buffered reader allocates a
        ``size`` buffer per socket read and copies each block four times."""
        if size is None or size < DIRECT_READ_MIN:
            return super().read(size)  # type: ignore[no-any-return]
        out = bytearray(size)
        got = self.readinto(out)
        del out[got:]
        return bytes(out)

    def readinto(self, buffer: Any) -> int:
        """Fill ``buffer``; fewer bytes only at the end of the stream. The bytes
        already read ahead come first, the rest straight from the socket into
        ``buffer`` (no allocation, no copy: a large upload reads its body this way
        into buffers it reuses)."""
        buffered: Any = self  # _pyio.BufferedReader's read-ahead state (cheroot uses it too)
        with buffered._read_lock, memoryview(buffer) as whole, whole.cast("B") as view:
            size = len(view)
            got = max(0, min(len(buffered._read_buf) - buffered._read_pos, size))
            if got:
                start = buffered._read_pos
                view[:got] = buffered._read_buf[start:start + got]
                buffered._read_pos = start + got
            while got < size:
                n = self.raw.readinto(view[got:])
                if not n:
                    break
                got += n
        self.bytes_read += got
        return got

    def readline(self, size: int | None = -1) -> bytes:
        """One line, ending with b"\\n" unless it is cut at ``size`` bytes or at the
        end of the stream. A line already in the buffer (as the lines of a request
        head nearly always are) is cut out with one search; the pure-Python reader
        peeked and copied several times per line, and could return more than
        ``size`` bytes when the line came in pieces."""
        limit = -1 if size is None else size
        buffered: Any = self  # _pyio.BufferedReader's read-ahead state
        parts: list[bytes] = []
        got = 0
        with buffered._read_lock:
            while True:
                buf, pos = buffered._read_buf, buffered._read_pos
                stop = len(buf) if limit < 0 else min(len(buf), pos + limit - got)
                end = buf.find(b"\n", pos, stop)
                if end >= 0:
                    stop = end + 1
                parts.append(buf[pos:stop])
                got += stop - pos
                buffered._read_pos = stop
                if end >= 0 or got == limit:
                    break
                chunk = self.raw.read(buffered.buffer_size)
                if not chunk:
                    break
                buffered._read_buf, buffered._read_pos = bytes(chunk), 0
        self.bytes_read += got
        return parts[0] if len(parts) == 1 else b"".join(parts)

    def take_head(self, limit: int) -> bytes | None:
        """The whole request head (up to and with its empty line) when it fits in one
        buffer of at most ``limit`` bytes (0: no limit), taken out of the reader; None
        (nothing taken) when it is not there whole or starts with an empty line.
        An empty buffer is filled by one read: a worker gets a connection once its
        head has arrived, so that read does not wait."""
        buffered: Any = self  # _pyio.BufferedReader's read-ahead state
        with buffered._read_lock:
            if buffered._read_pos >= len(buffered._read_buf):
                chunk = self.raw.read(buffered.buffer_size)
                if not chunk:
                    return None
                buffered._read_buf, buffered._read_pos = bytes(chunk), 0
            buf, pos = buffered._read_buf, buffered._read_pos
            if buf.startswith(b"\r\n", pos):
                return None
            end = buf.find(HEAD_END, pos) + len(HEAD_END)
            if end < len(HEAD_END) or (limit and end - pos > limit):
                return None
            buffered._read_pos = end
        self.bytes_read += end - pos
        return bytes(buf[pos:end])

    @property
    def guard(self) -> GuardedSocketIO:
        raw = self.raw
        assert isinstance(raw, GuardedSocketIO)
        return raw
