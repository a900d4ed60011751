"""WsgiDAV's GET answers for files, handed to the server as ``FileBody``.

WsgiDAV reads a file's content in blocks in a generator of its own (after
conditions and ``Range`` are settled), so the server never sees the file.
``FileResponses`` sits directly around ``WsgiDAVApp``: for a GET it takes the
first block WsgiDAV produces; if the resource's content file was opened for
it (``FileResource.get_content`` records it under ``OPENED``), the answer is
200 or 206 and has a ``Content-Length``, the rest is the file region that
follows, which the server can send with ``sendfile``. WsgiDAV's generator is
closed at once (it closes its file; the body keeps a duplicate descriptor).
Anything else passes through unchanged.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from typing import Any, BinaryIO

from provider.file_body import FileBody

OPENED = "davdrive.opened_content"


def record_opened(environ: dict[str, Any], file: BinaryIO) -> BinaryIO:
    """Note that ``file`` is the content a GET is about to send; returns it."""
    if environ.get("REQUEST_METHOD") == "GET":
        environ[OPENED] = file
    return file


class FileResponses:
    def __init__(self, app: Any) -> None:
        self.app = app

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        if environ.get("REQUEST_METHOD") != "GET":
            return self.app(environ, start_response)  # type: ignore[no-any-return]
        answer: list[Any] = []

        def _start_response(status: str, headers: list[Any], exc_info: Any = None) -> Any:
            answer[:] = [status, headers]
            return start_response(status, headers, exc_info)

        body = self.app(environ, _start_response)
        blocks = iter(body)
        try:
            first = next(blocks, None)
            opened = environ.pop(OPENED, None)
            adopted = _adopt(answer, opened, first)
        except BaseException:
            _close(body)
            raise
        if adopted is None:
            return _chain(first, blocks, body)
        _close(body)
        return adopted


def _adopt(answer: list[Any], opened: BinaryIO | None, first: bytes | None) -> Any:
    """The rest of the answer as a ``FileBody`` (or ``[first]`` when nothing is
    left), or None when this answer is not a plain file region."""
    if opened is None or first is None or len(answer) != 2:
        return None
    status, headers = answer
    if status[:3] not in ("200", "206"):
        return None
    lengths = [v for k, v in headers if k.lower() == "content-length"]
    if len(lengths) != 1 or not lengths[0].isdigit():
        return None
    left = int(lengths[0]) - len(first)
    if left < 0:
        return None
    if left == 0:
        return [first]
    try:
        offset = opened.tell()
        fd = os.dup(opened.fileno())
    except (AttributeError, OSError, ValueError):
        return None
    return FileBody(os.fdopen(fd, "rb"), offset=offset, length=left, head=first)


def _chain(first: bytes | None, rest: Iterator[bytes], body: Iterable[bytes]) -> Iterator[bytes]:
    try:
        if first is not None:
            yield first
        yield from rest
    finally:
        _close(body)


def _close(body: Iterable[bytes]) -> None:
    close = getattr(body, "close", None)
    if close is not None:
        close()
