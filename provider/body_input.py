"""Request bodies that fail while being read become a clean 4xx, never a 500.

The server raises from ``wsgi.input`` when a chunked body is malformed (a
chunk size that is not hex, a missing CRLF: ``ValueError``), when a client
pauses longer than the body timeout (``TimeoutError``) or disconnects
(``OSError``). ``GuardedInput`` turns these into ``BodyReadError``, a
``DAVError`` answered 400 (408 for a timeout) with ``Connection: close`` and
one log line. ``QuietBodyErrors`` keeps WsgiDAV's PUT handler from logging a
traceback for it (it logs every exception while copying the body).

``GuardedInput.readinto`` fills a caller's buffer (``read_into``): straight
from the socket when the body is cheroot's known-length body over the
server's reader, so a large upload reads into buffers it reuses instead of
allocating and copying a new ``bytes`` per block.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

from cheroot.server import KnownLengthRFile
from wsgidav.dav_error import DAVError

_log = logging.getLogger("davdrive.http")


class BodyReadError(DAVError):  # type: ignore[misc]
    """The request body could not be read; the connection is closed after the answer."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(status, context_info=message, add_headers=[("Connection", "close")])


def body_error(exc: BaseException, environ: dict[str, Any]) -> BodyReadError:
    """The answer for ``exc`` raised while reading the body, logged once."""
    if isinstance(exc, TimeoutError):
        error = BodyReadError(408, "The request body stopped arriving (timeout).")
    elif isinstance(exc, ValueError):
        error = BodyReadError(400, "The request body is malformed (chunked coding).")
    else:
        error = BodyReadError(400, "The request body could not be read.")
    _log.info(
        "%s %s from %s: %s (%s)", environ.get("REQUEST_METHOD"), environ.get("PATH_INFO"),
        environ.get("REMOTE_ADDR"), error.context_info, exc,
    )
    return error


class LineIterator:
    """A body stream whose iteration gives its lines (at most 64 KiB each) through its
    own ``readline``, as ``wsgi.input`` must."""

    def readline(self, size: int = -1) -> bytes:
        raise NotImplementedError

    def __iter__(self) -> Iterator[bytes]:
        while True:
            line = self.readline(64 * 1024)
            if not line:
                return
            yield line


class GuardedInput(LineIterator):
    """``wsgi.input`` whose read errors are ``BodyReadError``."""

    def __init__(self, stream: Any, environ: dict[str, Any]) -> None:
        self._stream = stream
        self._environ = environ

    def read(self, size: int = -1) -> bytes:
        try:
            return self._stream.read(size)  # type: ignore[no-any-return]
        except (ValueError, OSError) as exc:
            raise body_error(exc, self._environ) from None

    def readinto(self, buffer: Any) -> int:
        """Fill ``buffer`` with body bytes; fewer only at the end of the body."""
        try:
            return read_into(self._stream, buffer)
        except (ValueError, OSError) as exc:
            raise body_error(exc, self._environ) from None

    def readline(self, size: int = -1) -> bytes:
        try:
            return self._stream.readline(size)  # type: ignore[no-any-return]
        except (ValueError, OSError) as exc:
            raise body_error(exc, self._environ) from None


BODY_BLOCK = 1024 * 1024  # as WsgiDAV's block_size (server.py)


def body_blocks(environ: dict[str, Any], length: int) -> Iterator[bytes]:
    """The request body of ``length`` announced bytes from ``wsgi.input``, in blocks of
    at most ``BODY_BLOCK``, setting WsgiDAV's ``wsgidav.some_input_read`` (once a
    block came) and ``wsgidav.all_input_read`` (at the end) as its own loop does. A
    body that ends early stops there: the caller compares what it got."""
    stream = environ["wsgi.input"]
    left = length
    while left > 0:
        block = stream.read(min(left, BODY_BLOCK))
        if not block:
            break
        environ["wsgidav.some_input_read"] = 1
        left -= len(block)
        yield block
    environ["wsgidav.all_input_read"] = 1


def read_into(stream: Any, buffer: Any) -> int:
    """Fill ``buffer`` from the request body ``stream``; the number of bytes, fewer
    only at the end of the body. Without a copy when ``stream`` reads into buffers
    itself, or is cheroot's known-length body over a reader that does; otherwise
    through ``stream.read`` and one copy."""
    with memoryview(buffer) as whole, whole.cast("B") as view:
        readinto = getattr(stream, "readinto", None)
        if readinto is not None:
            return int(readinto(view))
        rfile: Any = getattr(stream, "rfile", None)
        if isinstance(stream, KnownLengthRFile) and hasattr(rfile, "readinto"):
            n = int(rfile.readinto(view[: min(len(view), stream.remaining)]))
            stream.remaining -= n
            return n
        data = stream.read(len(view))
        view[: len(data)] = data
        return len(data)


class QuietBodyErrors(logging.Filter):
    """Drops records whose exception is a ``BodyReadError`` (already logged once)."""

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        return not isinstance(exc, BodyReadError)


def install_quiet_body_errors(logger_name: str = "wsgidav") -> None:
    """Add ``QuietBodyErrors`` to WsgiDAV's request logger (once per process)."""
    for name in (logger_name, f"{logger_name}.request_server"):
        logger = logging.getLogger(name)
        if not any(isinstance(f, QuietBodyErrors) for f in logger.filters):
            logger.addFilter(QuietBodyErrors())
