"""Request hardening in front of WsgiDAV.

Checks that are cheap and must hold for every request, before any
authentication or database work:

- header block size (431), NUL and control bytes in the target or headers (400);
- the target must be UTF-8 (no overlong forms), without encoded slashes,
  backslashes or ``.``/``..`` segments (400);
- XML bodies are capped (413) and parsed once with defusedxml: DTDs,
  entities and malformed XML are refused (400) before WsgiDAV sees them;
- uploads larger than the configured maximum are refused (413) before a byte
  is stored;
- PROPFIND with Depth: infinity (or no Depth, which means infinity) gets
  403 with the RFC 4918 ``propfind-finite-depth`` condition unless enabled;
- a ``Destination`` with another scheme or host is reduced to its path when
  that path lies inside the mount (TLS terminated by a proxy).
"""

from __future__ import annotations

import io
import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote, urlsplit

from defusedxml import ElementTree as SafeET

from provider.errors import plain_response

XML_METHODS = frozenset({"PROPFIND", "PROPPATCH", "LOCK", "UNLOCK", "REPORT", "SEARCH"})
_ENCODED_BAD = re.compile(r"%(2f|5c|00)", re.IGNORECASE)
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
FINITE_DEPTH_BODY = (
    b'<?xml version="1.0" encoding="utf-8"?>\n'
    b'<D:error xmlns:D="DAV:"><D:propfind-finite-depth/></D:error>\n'
)


@dataclass(frozen=True)
class Limits:
    mount: str
    max_header_bytes: int
    max_xml_bytes: int
    max_upload_bytes: int
    allow_infinite_propfind: bool


class RequestRefused(Exception):
    def __init__(self, status: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def _refuse(status: str, message: str) -> RequestRefused:
    return RequestRefused(status, message)


def _check_path(raw_path: str) -> str:
    """Return the decoded path or raise RequestRefused (400)."""
    try:
        path = raw_path.encode("latin-1").decode("utf-8")
    except (UnicodeEncodeError, UnicodeDecodeError):
        raise _refuse("400 Bad Request", "The URL is not valid UTF-8.") from None
    if _CONTROL.search(path):
        raise _refuse("400 Bad Request", "The URL contains control characters.")
    if "\\" in path:
        raise _refuse("400 Bad Request", "The URL contains a backslash.")
    if any(seg in (".", "..") for seg in path.split("/")):
        raise _refuse("400 Bad Request", "The URL contains '.' or '..' segments.")
    return path


def _content_length(environ: dict[str, Any]) -> int | None:
    raw = environ.get("CONTENT_LENGTH", "")
    if raw in ("", None):
        return None
    try:
        value = int(raw)
    except ValueError:
        raise _refuse("400 Bad Request", "Invalid Content-Length header.") from None
    if value < 0:
        raise _refuse("400 Bad Request", "Invalid Content-Length header.")
    return value


class HardeningMiddleware:
    """Refuses malformed or oversized requests with a clear 4xx."""

    def __init__(self, app: Any, limits: Limits) -> None:
        self.app = app
        self.limits = limits

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        try:
            self._check(environ)
        except RequestRefused as refused:
            environ["davdrive.refused"] = refused.message
            if refused.status.startswith("403") and "finite" in refused.message:
                start_response(
                    refused.status,
                    [
                        ("Content-Type", "application/xml; charset=utf-8"),
                        ("Content-Length", str(len(FINITE_DEPTH_BODY))),
                    ],
                )
                return [FINITE_DEPTH_BODY]
            headers = [("Connection", "close")] if refused.status[:3] in ("413", "431") else []
            return plain_response(
                start_response, refused.status, f"{refused.status}\n{refused.message}", headers
            )
        return self.app(environ, start_response)

    def _check(self, environ: dict[str, Any]) -> None:
        limits = self.limits
        header_bytes = 0
        for key, value in environ.items():
            if key.startswith("HTTP_") and isinstance(value, str):
                header_bytes += len(key) + len(value) + 4
                if "\x00" in value or "\r" in value or "\n" in value:
                    raise _refuse("400 Bad Request", f"Header {key[5:]} contains control bytes.")
        if header_bytes > limits.max_header_bytes:
            raise _refuse(
                "431 Request Header Fields Too Large",
                f"The request headers exceed {limits.max_header_bytes} bytes.",
            )
        raw_uri = environ.get("REQUEST_URI") or environ.get("RAW_URI") or ""
        if _ENCODED_BAD.search(raw_uri.split("?", 1)[0]):
            raise _refuse("400 Bad Request", "The URL contains an encoded '/', '\\' or NUL.")
        environ["PATH_INFO"] = _check_path(environ.get("PATH_INFO", "")).encode(
            "utf-8"
        ).decode("latin-1")
        method = environ.get("REQUEST_METHOD", "")
        length = _content_length(environ)
        if method == "PUT":
            if length is not None and length > limits.max_upload_bytes:
                raise _refuse(
                    "413 Content Too Large",
                    f"The upload exceeds the limit of {limits.max_upload_bytes} bytes.",
                )
        elif method in XML_METHODS:
            self._check_xml_body(environ, length)
        if method == "PROPFIND" and not limits.allow_infinite_propfind:
            depth = environ.get("HTTP_DEPTH", "infinity").strip().lower()
            if depth == "infinity":
                raise _refuse(
                    "403 Forbidden", "PROPFIND with Depth: infinity is refused (finite depth)."
                )
        if "HTTP_DESTINATION" in environ:
            environ["HTTP_DESTINATION"] = self._destination(environ["HTTP_DESTINATION"])

    def _check_xml_body(self, environ: dict[str, Any], length: int | None) -> None:
        limit = self.limits.max_xml_bytes
        chunked = "chunked" in environ.get("HTTP_TRANSFER_ENCODING", "").lower()
        if length is None and not chunked:
            return
        if length is not None and length > limit:
            raise _refuse("413 Content Too Large", f"XML bodies are limited to {limit} bytes.")
        stream = environ["wsgi.input"]
        body = stream.read(length) if length is not None else stream.read(limit + 1)
        if len(body) > limit:
            raise _refuse("413 Content Too Large", f"XML bodies are limited to {limit} bytes.")
        if length is not None and len(body) != length:
            raise _refuse("400 Bad Request", "The request body is shorter than announced.")
        if body.strip():
            try:
                SafeET.fromstring(body, forbid_dtd=True)
            except Exception:
                raise _refuse(
                    "400 Bad Request",
                    "The XML body is malformed or uses DTDs/entities, which are refused.",
                ) from None
        environ["wsgi.input"] = io.BytesIO(body)
        environ["CONTENT_LENGTH"] = str(len(body))
        environ.pop("HTTP_TRANSFER_ENCODING", None)

    def _destination(self, value: str) -> str:
        parts = urlsplit(value.strip())
        path = unquote(parts.path)
        if "\x00" in path:
            raise _refuse("400 Bad Request", "The Destination header is not a valid URL.")
        try:
            path.encode("utf-8")
        except UnicodeEncodeError:
            raise _refuse("400 Bad Request", "The Destination header is not valid UTF-8.") from None
        if _ENCODED_BAD.search(parts.path) or any(
            seg in (".", "..") for seg in path.split("/")
        ) or "\\" in path:
            raise _refuse("400 Bad Request", "The Destination path is not acceptable.")
        mount = self.limits.mount
        if parts.netloc and (path == mount or path.startswith(mount + "/")):
            return parts.path  # same mount, whatever scheme/host the proxy saw
        return value
