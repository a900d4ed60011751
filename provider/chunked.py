"""A strict reader of chunked request bodies (RFC 9112 section 7.1).

cheroot's reader takes any ``int(size, 16)`` (also ``-5``, ``+5``, ``0x5``,
``5_0`` and a 40-digit size it then tries to allocate) and reads a whole chunk
into memory at once. This one accepts a chunk-size of 1 to 15 hex digits, an
optional extension, and CRLF; it hands out at most 64 KiB per read whatever
the announced chunk size, and reads at most 100 trailer lines. Anything else
raises ``ValueError`` (answered 400 by ``provider.body_input``).
"""

from __future__ import annotations

import re
from typing import Any

_SIZE_LINE = re.compile(rb"([0-9A-Fa-f]{1,15})(;[^\x00-\x08\x0a-\x1f\x7f]*)?\r\n\Z")
_MAX_LINE = 4096
_MAX_TRAILERS = 100
_PIECE = 64 * 1024


class StrictChunkedReader:
    """File-like reader of a chunked body; ``closed`` once the last chunk is read."""

    def __init__(self, rfile: Any) -> None:
        self.rfile = rfile
        self.closed = False
        self._left = 0  # bytes left in the current chunk
        self._pending = b""  # read ahead by readline()

    def _line(self) -> bytes:
        line: bytes = self.rfile.readline(_MAX_LINE + 1)
        if not line:
            raise ValueError("The connection ended inside a chunked body.")
        if len(line) > _MAX_LINE:
            raise ValueError("Overlong line in a chunked body.")
        return line

    def _next_chunk(self) -> None:
        match = _SIZE_LINE.match(self._line())
        if match is None:
            raise ValueError("Bad chunk size line.")
        size = int(match.group(1), 16)
        if size:
            self._left = size
            return
        for _ in range(_MAX_TRAILERS + 1):
            if self._line() == b"\r\n":
                self.closed = True
                return
        raise ValueError("Too many trailer lines after a chunked body.")

    def _read_chunks(self, size: int) -> bytes:
        out: list[bytes] = []
        want = size
        while want > 0 and not self.closed:
            if self._left == 0:
                self._next_chunk()
                continue
            data: bytes = self.rfile.read(min(self._left, want, _PIECE))
            if not data:
                raise ValueError("The connection ended inside a chunk.")
            out.append(data)
            self._left -= len(data)
            want -= len(data)
            if self._left == 0 and self.rfile.read(2) != b"\r\n":
                raise ValueError("A chunk does not end with CRLF.")
        return b"".join(out)

    def read(self, size: int | None = None) -> bytes:
        if size is None or size < 0:
            parts = [self._pending]
            self._pending = b""
            while not self.closed:
                parts.append(self._read_chunks(_PIECE))
            return b"".join(parts)
        head, self._pending = self._pending[:size], self._pending[size:]
        return head + self._read_chunks(size - len(head))

    def readline(self, size: int | None = None) -> bytes:
        limit = size if size is not None and size >= 0 else 1 << 62
        out = b""
        while len(out) < limit:
            if not self._pending:
                self._pending = self._read_chunks(min(8192, limit - len(out)))
                if not self._pending:
                    break
            end = self._pending.find(b"\n", 0, limit - len(out))
            take = end + 1 if end >= 0 else limit - len(out)
            out += self._pending[:take]
            self._pending = self._pending[take:]
            if end >= 0:
                break
        return out

    def readlines(self, sizehint: int = 0) -> list[bytes]:
        lines: list[bytes] = []
        while True:
            line = self.readline()
            if not line:
                return lines
            lines.append(line)

    def __iter__(self) -> Any:
        return iter(self.readline, b"")
