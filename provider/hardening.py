"""Request hardening in front of WsgiDAV.

Checks that are cheap and must hold for every request, before any
authentication or database work; nothing here reads a request body:

- header block size (431, ``Content-Type``/``Content-Length`` included), NUL and
  control bytes (anything below 0x20 but TAB, and DEL) in the target or any
  header value (400);
- the target must be UTF-8 (no overlong forms), without encoded slashes,
  backslashes or ``.``/``..`` segments, also once more percent-decoded
  (``%252e%252e``) (400);
- XML bodies announced larger than the cap get 413; they are read and
  parsed only after authentication (``provider.xml_body``);
- uploads larger than the configured maximum are refused (413) before a byte
  is stored when the size is announced (``Content-Length`` or
  ``X-Expected-Entity-Length``); a body of unknown length (chunked) is cut off
  with 413 as soon as it passes the limit; a body that cannot be read
  (malformed chunks, timeout) ends the request with 400/408
  (``provider.body_input``);
- PROPFIND without a Depth header means Depth 1 (as SabreDAV answers it;
  docs/decisions.md); an explicit Depth: infinity gets 403 with the RFC 4918
  ``propfind-finite-depth`` condition unless enabled;
- the ``Destination`` of COPY/MOVE passes the same checks as the target
  (strict UTF-8, raw UTF-8 bytes accepted and percent-encoded); one with
  another scheme or host is reduced to its path when that path lies inside
  the mount (TLS terminated by a proxy); a path outside the mount gets 502
  (RFC 4918 9.8.5) before WsgiDAV sees it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote, unquote_to_bytes, urlsplit

from lxml import etree
from wsgidav.dav_error import HTTP_REQUEST_ENTITY_TOO_LARGE, DAVError

from provider.body_input import GuardedInput, LineIterator
from provider.errors import error_response, plain_response

XML_METHODS = frozenset({"PROPFIND", "PROPPATCH", "LOCK", "UNLOCK", "REPORT", "SEARCH"})
_ENCODED_BAD = re.compile(r"%(2f|5c|00)", re.IGNORECASE)
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
# Header values: HTAB is legal (RFC 9110 5.5), other C0 controls and DEL are not.
_HEADER_CONTROL = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")
_NON_ASCII = re.compile(rb"[\x80-\xff]")
# Request headers that WSGI does not prefix with HTTP_.
_UNPREFIXED_HEADERS = ("CONTENT_TYPE", "CONTENT_LENGTH")


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


def _check_decoded(path: str, what: str) -> None:
    """Refuse control characters, backslashes and dot segments, also encoded twice."""
    if _CONTROL.search(path):
        raise _refuse("400 Bad Request", f"The {what} contains control characters.")
    if "\\" in path:
        raise _refuse("400 Bad Request", f"The {what} contains a backslash.")
    for seg in path.split("/"):
        if seg in (".", ".."):
            raise _refuse("400 Bad Request", f"The {what} contains '.' or '..' segments.")
        if "%" in seg:
            # Nothing here decodes twice, but a proxy or a client might: refuse what
            # would become a traversal (%252e%252e, %252f, %255c, %2500) after one more pass.
            again = unquote(seg, encoding="latin-1")
            if again in (".", "..") or "/" in again or "\\" in again or _CONTROL.search(again):
                raise _refuse("400 Bad Request", f"The {what} is percent-encoded twice.")


def _check_path(raw_path: str) -> str:
    """Return the decoded path or raise RequestRefused (400)."""
    try:
        path = raw_path.encode("latin-1").decode("utf-8")
    except (UnicodeEncodeError, UnicodeDecodeError):
        raise _refuse("400 Bad Request", "The URL is not valid UTF-8.") from None
    _check_decoded(path, "URL")
    return path


def _content_length(environ: dict[str, Any]) -> int | None:
    raw = (environ.get("CONTENT_LENGTH") or "").strip()
    if not raw:
        return None
    # Only ASCII digits: int() would also take "+1", "1_000" and non-ASCII digits.
    if not (raw.isascii() and raw.isdigit()):
        raise _refuse("400 Bad Request", "Invalid Content-Length header.")
    return int(raw)


class _LimitedInput(LineIterator):
    """``wsgi.input`` for a PUT of unknown length: 413 once the body passes ``limit``."""

    def __init__(self, stream: Any, limit: int) -> None:
        self._stream = stream
        self._limit = limit
        self._seen = 0

    def _count(self, data: bytes) -> bytes:
        self._seen += len(data)
        if self._seen > self._limit:
            raise DAVError(
                HTTP_REQUEST_ENTITY_TOO_LARGE,
                f"The upload exceeds the limit of {self._limit} bytes.",
            )
        return data

    def read(self, size: int = -1) -> bytes:
        if size is None or size < 0:
            size = self._limit + 1 - self._seen
        return self._count(self._stream.read(max(0, min(size, self._limit + 1 - self._seen))))

    def readline(self, size: int = -1) -> bytes:
        if size is None or size < 0:
            size = self._limit + 1 - self._seen
        return self._count(
            self._stream.readline(max(0, min(size, self._limit + 1 - self._seen)))
        )


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
                return error_response(start_response, refused.status, refused.message,
                                      conditions=[etree.Element("{DAV:}propfind-finite-depth")])
            headers = [("Connection", "close")] if refused.status[:3] in ("413", "431") else []
            return plain_response(
                start_response, refused.status, f"{refused.status}\n{refused.message}", headers
            )
        return self.app(environ, start_response)

    def _check(self, environ: dict[str, Any]) -> None:
        limits = self.limits
        header_bytes = 0
        for key, value in environ.items():
            if (key.startswith("HTTP_") or key in _UNPREFIXED_HEADERS) and isinstance(
                value, str
            ):
                header_bytes += len(key) + len(value) + 4
                if _HEADER_CONTROL.search(value):
                    name = key[5:] if key.startswith("HTTP_") else key
                    raise _refuse("400 Bad Request", f"Header {name} contains control bytes.")
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
            self._check_upload(environ, length)
        elif method in XML_METHODS:
            self._check_xml_size(length)
        if method == "PROPFIND":
            depth = environ.setdefault("HTTP_DEPTH", "1").strip().lower()
            if depth == "infinity" and not limits.allow_infinite_propfind:
                raise _refuse(
                    "403 Forbidden", "PROPFIND with Depth: infinity is refused (finite depth)."
                )
        if method in ("COPY", "MOVE") and "HTTP_DESTINATION" in environ:
            environ["HTTP_DESTINATION"] = self._destination(environ["HTTP_DESTINATION"])

    def _check_upload(self, environ: dict[str, Any], length: int | None) -> None:
        limit = self.limits.max_upload_bytes
        expected = environ.get("HTTP_X_EXPECTED_ENTITY_LENGTH", "").strip()
        announced = length
        if expected:
            if not (expected.isascii() and expected.isdigit()):
                raise _refuse("400 Bad Request", "Invalid X-Expected-Entity-Length header.")
            announced = max(announced or 0, int(expected))
        if announced is not None and announced > limit:
            raise _refuse(
                "413 Content Too Large", f"The upload exceeds the limit of {limit} bytes."
            )
        environ["wsgi.input"] = GuardedInput(environ["wsgi.input"], environ)
        if length is None:
            environ["wsgi.input"] = _LimitedInput(environ["wsgi.input"], limit)

    def _check_xml_size(self, length: int | None) -> None:
        """Only the announced size: the body itself is read after authentication."""
        limit = self.limits.max_xml_bytes
        if length is not None and length > limit:
            raise _refuse("413 Content Too Large", f"XML bodies are limited to {limit} bytes.")

    def _destination(self, value: str) -> str:
        """The Destination as a path WsgiDAV resolves into the mount, or RequestRefused.

        WsgiDAV percent-decodes the whole header once and then splits it as a
        URL (dropping tabs and newlines, cutting at ``?``, splitting ``;params``
        off the last segment), so what it gets from here is the raw, still
        encoded path, checked to decode to what it means.
        """
        try:
            raw = value.strip().encode("latin-1")  # WSGI: header bytes as latin-1
        except UnicodeEncodeError:
            raw = value.strip().encode("utf-8")
        # Some clients send raw UTF-8 instead of %-escapes: escape it, decode strictly below.
        ascii_value = _NON_ASCII.sub(lambda m: b"%%%02X" % m.group()[0], raw).decode("ascii")
        parts = urlsplit(ascii_value, allow_fragments=False)
        try:
            path = unquote_to_bytes(parts.path).decode("utf-8")
        except UnicodeDecodeError:
            raise _refuse("400 Bad Request", "The Destination is not valid UTF-8.") from None
        if _ENCODED_BAD.search(parts.path):
            raise _refuse("400 Bad Request", "The Destination contains an encoded '/', '\\' "
                                             "or NUL.")
        _check_decoded(path, "Destination")
        if "?" in path:
            # WsgiDAV would decode it and cut the name there: refuse rather than truncate.
            raise _refuse("400 Bad Request", "The Destination name may not contain '?'.")
        mount = self.limits.mount
        if not (path == mount or path.startswith(mount + "/")):
            raise _refuse("502 Bad Gateway", f"The Destination is outside {mount}/ on this "
                                              "server; copy or move within the drive.")
        if ";" in path.rstrip("/").rsplit("/", 1)[-1]:
            # urlparse would take "a;b.txt" for "a" with parameters "b.txt" (and COPY
            # would overwrite "a"); a final "." segment, dropped by WsgiDAV's
            # normalize_path, keeps the last name whole.
            return parts.path.rstrip("/") + "/."
        return parts.path  # same mount, whatever scheme/host the proxy saw
