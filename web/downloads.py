"""Answers sent while they are produced (downloads, exports), for both blueprints.

A streamed answer outlives its request: Flask runs the request's teardown, which
closes ``g.db``, before the body is sent (``stream_with_context`` or not). An
answer that reads the database while it is sent opens its own session through
``with_own_session``, closed with the answer.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, BinaryIO

from flask import Response
from sqlalchemy.orm import Session

from web.request_state import state

CHUNK = 1024 * 1024


def attachment_response(stream: BinaryIO, name: str, size: int, ctype: str) -> Response:
    """``stream`` sent as a download named ``name``: never shown inline, never sniffed
    (the page's Content-Security-Policy applies too); read a chunk at a time and
    closed at the end."""

    def body() -> Any:
        with stream:
            while chunk := stream.read(CHUNK):
                yield chunk

    response = Response(body(), mimetype=ctype)
    response.headers["Content-Length"] = str(size)
    response.headers.set("Content-Disposition", "attachment", filename=name)
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response


def with_own_session(build: Callable[[Session], Response]) -> Response:
    """The answer ``build`` makes with a database session of its own, closed when the
    answer is closed (also when the client goes away or never reads it), or at once
    when ``build`` raises."""
    session = state().runtime.sessions()
    try:
        response = build(session)
    except BaseException:
        session.close()
        raise
    response.call_on_close(session.close)
    return response
