"""The read fast path: GET/HEAD of a file and PROPFIND Depth 0/1, without WsgiDAV.

``FastReads`` sits after authentication and the XML body check (the actor is
known, a PROPFIND body is read, capped and checked), directly outside
WsgiDAV. It answers only requests on a strict whitelist (docs/fast-path.md)
with the same rules (``Drive.node_at``, ``FactBuilder``, ``policy.decide``)
and the same answers as WsgiDAV; anything else goes on unchanged:

- GET/HEAD: no query string, ``Range``, ``If-*``, ``Depth`` other than 0 or
  body; the target a visible, readable, stored file (not junk, not in the
  back-office branch, not under Nextcloud's layout prefix).
- PROPFIND: see ``provider.fast_propfind``.

A missing or hidden target always goes on to WsgiDAV after the same lookup,
so both run the same SQL (hidden == missing). File bodies are sent through
``wsgi.file_wrapper`` when the server offers one, else in 1 MiB blocks, with
the request's DB connection released first.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any, BinaryIO

from davdrive.backoffice import BRANCH
from davdrive.errors import BadRequest
from davdrive.paths import name_key, split_path
from provider.body_memo import BodyMemo
from provider.context import context_of
from provider.fast_propfind import fast_propfind
from provider.multistatus import HttpDates, Templates
from provider.nextcloud_layout import PREFIX_KEY
from provider.resources import content_headers

BLOCK = 1 << 20
NC_AREAS = frozenset({"files", "uploads"})  # Nextcloud's layout: left to NextcloudLayout
FAST = "davdrive.fast_path"  # set in environ when the fast path answered


class FastReads:
    """WSGI middleware answering whitelisted reads itself (see module doc)."""

    def __init__(self, app: Any, mount: str, provider: Any) -> None:
        self.app = app
        self.mount = mount
        self.provider = provider
        self.dates = HttpDates()
        self.templates = Templates(self.dates)
        self.props = BodyMemo()  # the property names asked for, by PROPFIND body

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        method = environ.get("REQUEST_METHOD")
        answer = None
        if method in ("GET", "HEAD", "PROPFIND"):
            parts = self._parts(environ)
            if parts is not None:
                if method == "PROPFIND":
                    answer = self._propfind(environ, start_response, parts)
                else:
                    answer = self._get(environ, start_response, parts, method == "HEAD")
        if answer is None:
            return self.app(environ, start_response)  # type: ignore[no-any-return]
        environ[FAST] = True
        return answer

    def _parts(self, environ: dict[str, Any]) -> list[str] | None:
        """The drive path's segments, or None when the request is not for the fast path."""
        if environ.get("QUERY_STRING") or PREFIX_KEY in environ:
            return None
        if any(key.startswith("HTTP_IF") for key in environ):
            return None
        path = environ.get("PATH_INFO", "")
        if path != self.mount and not path.startswith(self.mount + "/"):
            return None
        try:
            path = path[len(self.mount):].encode("latin-1").decode("utf-8")
            parts = split_path(path)
        except (UnicodeError, BadRequest):
            return None
        if "//" in path or (parts and name_key(parts[0]) in (BRANCH, *NC_AREAS)):
            return None
        return parts

    def _get(
        self, environ: dict[str, Any], start_response: Any, parts: list[str], head: bool
    ) -> Iterable[bytes] | None:
        if "HTTP_RANGE" in environ or "HTTP_TRANSFER_ENCODING" in environ:
            return None
        if (environ.get("CONTENT_LENGTH") or "0").strip() != "0":
            return None
        if environ.get("HTTP_DEPTH", "0").strip() != "0" or environ["PATH_INFO"].endswith("/"):
            return None
        ctx = context_of(environ)
        drive = ctx.drive
        # The visible, readable, stored file as a Core row; else WsgiDAV answers, on the
        # chain this lookup settled (hidden and missing run the same SQL).
        found = drive.readable_file_row(parts, ctx.reads)
        if found is None:
            return None
        node = found[0]
        dates = self.dates
        headers = [
            ("Content-Length", str(node.size)),
            ("Last-Modified", dates.rfc1123(node.mtime)),
            ("Content-Type", node.content_type),
            ("Date", dates.now()),
            ("ETag", f'"{node.blob_sha256}"'),
            ("Accept-Ranges", "bytes"),
            *content_headers(node.content_type, node.name),
        ]
        if head:
            ctx.idle()
            start_response("200 OK", headers)
            return []
        if node.inline_data is not None:  # kept in the database: read with the path
            ctx.idle()
            start_response("200 OK", headers)
            return [node.inline_data]
        try:
            stream = drive.blobs.open(node.blob_sha256)
        except OSError:  # e.g. a missing blob: WsgiDAV answers it as usual
            return None
        ctx.release()
        start_response("200 OK", headers)
        wrapper = environ.get("wsgi.file_wrapper")
        if wrapper is not None:
            return wrapper(stream, BLOCK)  # type: ignore[no-any-return]
        return _blocks(stream)

    def _propfind(
        self, environ: dict[str, Any], start_response: Any, parts: list[str]
    ) -> Iterable[bytes] | None:
        provider = self.provider
        share = provider.share_path or ""
        chunks = fast_propfind(
            environ, context_of(environ), parts,
            ((provider.mount_path or "") + share, share), self.templates, self.props,
        )
        if chunks is None:
            return None
        data, last = next(chunks)  # the item and a first page: errors before any byte
        headers = [
            ("Content-Type", "application/xml; charset=utf-8"),
            ("Date", self.dates.now()),
        ]
        if last:  # the whole answer: its length is known (no chunked framing)
            headers.append(("Content-Length", str(len(data))))
            start_response("207 Multi-Status", headers)
            return [data]
        start_response("207 Multi-Status", headers)
        return _encoded(data, chunks)


def _blocks(stream: BinaryIO) -> Iterator[bytes]:
    try:
        while True:
            block = stream.read(BLOCK)
            if not block:
                return
            yield block
    finally:
        stream.close()


def _encoded(first: bytes, rest: Iterator[tuple[bytes, bool]]) -> Iterator[bytes]:
    yield first
    for chunk, _last in rest:
        yield chunk
