"""XML request bodies: read and checked after authentication, before WsgiDAV.

``XmlBodyMiddleware`` sits inside the authentication middleware, so an
unauthenticated client never gets a body read or parsed (the 401 comes at
once, and the connection is closed rather than the body drained). For
PROPFIND, PROPPATCH, LOCK, UNLOCK, REPORT and SEARCH it reads the body (at
most ``max_xml_bytes``, else 413), then parses it twice: with defusedxml
(DTDs and entities refused) and with the very parser WsgiDAV uses afterwards
(lxml, which refuses nesting deeper than 256 levels). Any failure is a 400
with a clear message and one log line, never a traceback; the body handed on
is the bytes that were checked.
"""

from __future__ import annotations

import io
import logging
from typing import Any

from defusedxml import ElementTree as SafeET
from lxml import etree

from provider.body_input import BodyReadError, GuardedInput
from provider.body_memo import MISSING, BodyMemo
from provider.errors import plain_response

_log = logging.getLogger("davdrive.http")

XML_METHODS = frozenset({"PROPFIND", "PROPPATCH", "LOCK", "UNLOCK", "REPORT", "SEARCH"})
MAX_DEPTH = 64  # WebDAV bodies nest a few levels; dead property values a few more


class BadXml(Exception):
    def __init__(self, status: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def _depth(root: Any) -> int:
    deepest, stack = 0, [(root, 1)]
    while stack:
        node, depth = stack.pop()
        deepest = max(deepest, depth)
        stack.extend((child, depth + 1) for child in node)
    return deepest


def check_xml(body: bytes) -> None:
    """Raise BadXml unless ``body`` is well-formed XML both parsers accept."""
    try:
        root = SafeET.fromstring(body, forbid_dtd=True)
    except Exception as exc:
        text = str(exc)
        if "depth" in text.lower() or isinstance(exc, RecursionError):
            raise BadXml("400 Bad Request", f"The XML body nests deeper than {MAX_DEPTH} "
                                            "levels.") from None
        raise BadXml(
            "400 Bad Request",
            "The XML body is malformed or uses DTDs/entities, which are refused.",
        ) from None
    if _depth(root) > MAX_DEPTH:
        raise BadXml("400 Bad Request", f"The XML body nests deeper than {MAX_DEPTH} levels.")
    try:
        etree.XML(body, parser=etree.XMLParser(resolve_entities=False, no_network=True))
    except etree.XMLSyntaxError as exc:
        raise BadXml("400 Bad Request", f"The XML body is not accepted: {exc.msg}") from None


class XmlBodyMiddleware:
    """Reads, caps and checks XML bodies of signed-in requests (see module doc)."""

    def __init__(self, app: Any, max_xml_bytes: int) -> None:
        self.app = app
        self.max_xml_bytes = max_xml_bytes
        self.accepted = BodyMemo()  # bodies ``check_xml`` accepted

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        if environ.get("REQUEST_METHOD") in XML_METHODS:
            try:
                self._read_and_check(environ)
            except BadXml as bad:
                _log.info("%s %s from %s refused: %s", environ.get("REQUEST_METHOD"),
                          environ.get("PATH_INFO"), environ.get("REMOTE_ADDR"), bad.message)
                environ["davdrive.refused"] = bad.message
                headers = [("Connection", "close")] if bad.status.startswith("413") else []
                return plain_response(start_response, bad.status,
                                      f"{bad.status}\n{bad.message}", headers)
            except BodyReadError as error:
                return plain_response(
                    start_response, f"{error.value} {_REASONS.get(error.value, 'Error')}",
                    f"{error.context_info}", list(error.add_headers or []),
                )
        return self.app(environ, start_response)

    def _read_and_check(self, environ: dict[str, Any]) -> None:
        limit = self.max_xml_bytes
        raw = (environ.get("CONTENT_LENGTH") or "").strip()
        length = int(raw) if raw.isdigit() else None
        chunked = "chunked" in environ.get("HTTP_TRANSFER_ENCODING", "").lower()
        if length is None and not chunked:
            return
        if length is not None and length > limit:
            raise BadXml("413 Content Too Large", f"XML bodies are limited to {limit} bytes.")
        stream = GuardedInput(environ["wsgi.input"], environ)
        body = stream.read(length) if length is not None else stream.read(limit + 1)
        if len(body) > limit:
            raise BadXml("413 Content Too Large", f"XML bodies are limited to {limit} bytes.")
        if length is not None and len(body) != length:
            raise BadXml("400 Bad Request", "The request body is shorter than announced.")
        if body.strip() and self.accepted.get(body) is MISSING:
            check_xml(body)
            self.accepted.put(body, True)
        environ["wsgi.input"] = io.BytesIO(body)
        environ["CONTENT_LENGTH"] = str(len(body))
        environ.pop("HTTP_TRANSFER_ENCODING", None)


_REASONS = {400: "Bad Request", 408: "Request Timeout"}
