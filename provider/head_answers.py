"""HEAD answers carry headers only (RFC 9110 9.3.2), whatever produced them.

``HeadersOnly`` sits outermost: for a HEAD request it runs the application
as for any request (so status and headers, ``Content-Length`` included, are
those a GET would get), consumes and discards the body, and sends nothing
after the header block. Without it, error pages and the home page sent a
body that a keep-alive client read as the start of its next answer.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from provider.file_body import FileBody


class HeadersOnly:
    def __init__(self, app: Any) -> None:
        self.app = app

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        body = self.app(environ, start_response)
        if environ.get("REQUEST_METHOD") != "HEAD":
            return body  # type: ignore[no-any-return]
        if isinstance(body, FileBody):  # its headers are out already: never read the file
            body.close()
            return []
        try:
            for _chunk in body:  # start_response may only be called while iterating
                pass
        finally:
            close = getattr(body, "close", None)
            if close is not None:
                close()
        return []
