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
    """cheroot's ``StreamWriter`` with ``hold_next`` (see module doc)."""

    def __init__(self, sock: socket.socket, bufsize: int = io.DEFAULT_BUFFER_SIZE) -> None:
        super().__init__(sock, "wb", bufsize)
        self._held = b""
        self._hold = False

    def hold_next(self) -> None:
        """Keep the next write back until the one after it, or ``flush()``."""
        self._hold = True

    def write(self, data: Any, *args: Any, **kwargs: Any) -> int:  # type: ignore[override]
        if self._hold:
            self._hold = False
            self._held = bytes(data)
            return len(self._held)
        if self._held:
            held, self._held = self._held, b""
            if len(data) <= JOIN_MAX:
                super().write(held + bytes(data))
                return len(data)
            super().write(held)
        return int(super().write(data, *args, **kwargs))

    def flush(self) -> None:
        if self._held:
            held, self._held = self._held, b""
            super().write(held)
        super().flush()

    def holding(self) -> bool:
        """Whether written bytes wait to be sent."""
        return bool(self._held)
