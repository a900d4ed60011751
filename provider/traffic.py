"""Counts each answered request for the connection statistics (``davdrive.connection_stats``).

``TrafficCounter(app, stats, interface, login_of)`` wraps any WSGI app (the
WebDAV stack, the admin view): when the answer is done (its body closed,
or the app raised) it adds one request to ``stats`` under
``login_of(environ)`` (read then, so the sign-in that happened inside
counts), with the request body bytes the app read (a body is counted as it
is read: a refused upload that is never read counts nothing) and the
response body bytes handed to the server (all of a file answer's bytes;
none for HEAD). Counting costs no SQL: ``stats`` keeps it in memory.

A file answer (``FileBody``) is returned as it is, so the server may still
``sendfile`` it; its size is taken before the first byte leaves.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import Any

from davdrive.connection_stats import ConnectionStats
from provider.body_input import LineIterator, read_into
from provider.file_body import FileBody

LoginOf = Callable[[dict[str, Any]], str]


class CountingInput(LineIterator):
    """``wsgi.input`` that counts the bytes read through it."""

    def __init__(self, stream: Any) -> None:
        self._stream = stream
        self.count = 0

    def read(self, size: int = -1) -> bytes:
        data: bytes = self._stream.read(size)
        self.count += len(data)
        return data

    def readinto(self, buffer: Any) -> int:
        n = read_into(self._stream, buffer)
        self.count += n
        return n

    def readline(self, size: int = -1) -> bytes:
        line: bytes = self._stream.readline(size)
        self.count += len(line)
        return line


def _has_body(environ: dict[str, Any]) -> bool:
    length = (environ.get("CONTENT_LENGTH") or "").strip()
    if length not in ("", "0"):
        return True
    return "chunked" in environ.get("HTTP_TRANSFER_ENCODING", "").lower()


class _CountedBody:
    """The response iterable, counting the bytes it yields; ``done(sent)`` runs once,
    after the inner body is closed."""

    def __init__(self, body: Iterable[bytes], done: Callable[[int], None]) -> None:
        self._body = body
        self._done: Callable[[int], None] | None = done
        self._sent = 0

    def __iter__(self) -> Iterator[bytes]:
        for chunk in self._body:
            self._sent += len(chunk)
            yield chunk

    def close(self) -> None:
        try:
            close = getattr(self._body, "close", None)
            if close is not None:
                close()
        finally:
            done, self._done = self._done, None
            if done is not None:
                done(self._sent)


class TrafficCounter:
    """WSGI middleware: one request counted in ``stats`` per answer (see the module)."""

    def __init__(
        self, app: Any, stats: ConnectionStats, interface: str, login_of: LoginOf
    ) -> None:
        self.app = app
        self.stats = stats
        self.interface = interface
        self.login_of = login_of

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        counted: CountingInput | None = None
        if _has_body(environ):
            counted = environ["wsgi.input"] = CountingInput(environ["wsgi.input"])
        head = environ.get("REQUEST_METHOD") == "HEAD"  # the server sends no body

        def done(sent: int) -> None:
            self.stats.request(self.login_of(environ), self.interface,
                               counted.count if counted is not None else 0,
                               0 if head else sent)

        try:
            body = self.app(environ, start_response)
        except BaseException:
            done(0)
            raise
        if isinstance(body, FileBody):
            size = 0 if head else body.remaining() or 0
            body.on_close.append(lambda: done(size))
            return body
        return _CountedBody(body, done)
