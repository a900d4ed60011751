"""A response body that is a region of an open file (PEP 3333 ``wsgi.file_wrapper``).

``FileBody(file, block_size)`` iterates the file in blocks of ``block_size``
bytes (1 MiB by default) and closes it in ``close()``, so any WSGI server can
send it; ``send(write)`` gives the same blocks read into one reused buffer
(what ``provider.wsgi_gateway`` uses). ``provider.http_server`` recognises it
and, on a plain-HTTP connection whose answer has a ``Content-Length`` equal
to ``remaining()``, hands the file to ``socket.sendfile()`` instead.

Middlewares that wrap bodies keep the ``FileBody`` itself (so the server still
sees it) and register their work on it: ``before_send`` callbacks run once,
just before the bytes leave (the request context gives back its database
connection there); ``on_close`` callbacks run in ``close()`` after the file is
closed, even when the client went away or an error stopped the send.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Callable, Iterator
from typing import Any, BinaryIO

BLOCK = 1 << 20


class FileBody:
    """``length`` bytes of ``file`` from ``offset`` (default: from its current
    position to its end), preceded by ``head`` (bytes already read from it)."""

    def __init__(
        self,
        file: BinaryIO,
        block_size: int = BLOCK,
        *,
        offset: int | None = None,
        length: int | None = None,
        head: bytes = b"",
    ) -> None:
        self.file = file
        self.block_size = max(int(block_size or BLOCK), 8192)
        self.head = head
        self.offset = offset
        self.length = length
        self.before_send: list[Callable[[], Any]] = []
        self.on_close: list[Callable[[], Any]] = []
        self._closed = False

    def fileno(self) -> int | None:
        """The descriptor to send from, or None when the file has none."""
        try:
            return self.file.fileno()
        except (AttributeError, OSError, ValueError):
            return None

    def region(self) -> tuple[int, int] | None:
        """(offset, count) of the file bytes after ``head``; None if not a regular file."""
        fd = self.fileno()
        if fd is None:
            return None
        try:
            st = os.fstat(fd)
            start = self.offset if self.offset is not None else self.file.tell()
        except (OSError, ValueError):
            return None
        if not stat.S_ISREG(st.st_mode):
            return None
        count = st.st_size - start if self.length is None else self.length
        return start, max(count, 0)

    def remaining(self) -> int | None:
        """Bytes this body will produce (head included), when known."""
        region = self.region()
        return None if region is None else len(self.head) + region[1]

    def prepare(self) -> None:
        """Run the ``before_send`` callbacks (once)."""
        callbacks, self.before_send = self.before_send, []
        for callback in callbacks:
            callback()

    def __iter__(self) -> Iterator[bytes]:
        self.prepare()
        if self.head:
            yield self.head
        if self.offset is not None:
            self.file.seek(self.offset)
        left = self.length
        while left is None or left > 0:
            size = self.block_size if left is None else min(self.block_size, left)
            block = self.file.read(size)
            if not block:
                return
            if left is not None:
                left -= len(block)
            yield block

    def send(self, write: Callable[[Any], Any]) -> None:
        """Hand the body to ``write`` block by block, as iterating it would, but each
        file block read into one buffer reused for every block (a ``memoryview``; no
        allocation per block): ``write`` must be done with a block when it returns.
        A file that cannot ``readinto`` is sent as iterating gives it."""
        readinto = getattr(self.file, "readinto", None)
        if readinto is None:
            for block in self:
                write(block)
            return
        self.prepare()
        if self.head:
            write(self.head)
        if self.offset is not None:
            self.file.seek(self.offset)
        left = self.length
        with memoryview(bytearray(self.block_size)) as view:
            while left is None or left > 0:
                size = self.block_size if left is None else min(self.block_size, left)
                with view[:size] as part:
                    n = readinto(part)
                if not n:
                    return
                if left is not None:
                    left -= n
                with view[:n] as chunk:
                    write(chunk)

    def close(self) -> None:
        """Close the file, then run the ``on_close`` callbacks; safe to call twice."""
        if self._closed:
            return
        self._closed = True
        try:
            self.file.close()
        finally:
            callbacks, self.on_close = self.on_close, []
            _run_all(callbacks)


def _run_all(callbacks: list[Callable[[], Any]]) -> None:
    """Run every callback, even if one raises; re-raise the first error."""
    error: BaseException | None = None
    for callback in callbacks:
        try:
            callback()
        except BaseException as exc:  # noqa: BLE001 - re-raised below
            error = error or exc
    if error is not None:
        raise error
