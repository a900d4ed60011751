"""A file sent to the browser as a download, by both blueprints."""

from __future__ import annotations

from typing import Any, BinaryIO

from flask import Response

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
