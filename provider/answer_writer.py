"""Socket writer that sends an answer's head together with its first body bytes.

cheroot's writer sends every ``write`` at once: the head of an answer goes out
in one ``send`` and its body in another. For a small answer that is two
system calls on the server, and two segments the client wakes up for.

``AnswerWriter.hold_next()`` keeps the next write (the head) back; it leaves
with the write after it (when that one is at most ``JOIN_MAX`` bytes, in the
same ``send``, else just before it) or at ``flush()``. The request calls
``flush()`` when its answer is complete and before anything that bypasses
the writer (``sendall`` of a large block, ``sendfile``), so nothing is held
past the answer it belongs to.
"""

from __future__ import annotations

import io
import socket
from typing import Any

from cheroot.makefile import StreamWriter

JOIN_MAX = 64 * 1024  # a first body write up to this size leaves with the head


class AnswerWriter(StreamWriter):  # type: ignore[misc]
    """cheroot's ``StreamWriter`` (every write sent at once, ``bytes_written``
    counted) with ``hold_next`` (see module doc). A write goes to the socket in one
    ``sendall``: cheroot's writer copied it into its buffer and sent it through
    two more layers."""

    def __init__(self, sock: socket.socket, bufsize: int = io.DEFAULT_BUFFER_SIZE) -> None:
        super().__init__(sock, "wb", bufsize)
        self._sendall = sock.sendall
        self._held = b""
        self._hold = False

    def hold_next(self) -> None:
        """Keep the next write back until the one after it, or ``flush()``."""
        self._hold = True

    def write(self, data: Any, *args: Any, **kwargs: Any) -> int:  # type: ignore[override]
        self._checkClosed()
        size = len(data)
        if self._hold:
            self._hold = False
            self._held = bytes(data)
            return size
        if self._held:
            held, self._held = self._held, b""
            if size <= JOIN_MAX:
                data = held + data
            else:
                self._send(held)
        self._send(data)
        return size

    def flush(self) -> None:
        if self._held:
            held, self._held = self._held, b""
            self._send(held)

    def _send(self, data: Any) -> None:
        self._sendall(data)
        self.bytes_written += len(data)
