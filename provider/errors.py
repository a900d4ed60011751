"""The one place where domain errors become HTTP answers.

``dav_errors()`` wraps every call from the provider into the core and turns a
``DriveError`` into the matching ``DAVError``. ``SafeErrorPrinter`` replaces
WsgiDAV's error printer: it renders every ``DAVError`` as a DAV error element
with a sentence (``provider.error_body``; RFC 4918 condition kept) and
turns anything unexpected into a generic 500 whose body says nothing about
the code; the traceback goes to the log only.
"""

from __future__ import annotations

import html
import logging
import re
from collections.abc import Iterable, Iterator
from contextlib import contextmanager, suppress
from http import HTTPStatus
from typing import Any

from wsgidav import util
from wsgidav.dav_error import (
    DAVError,
    PRECONDITION_CODE_ProtectedProperty,
    get_http_status_string,
)
from wsgidav.mw.base_mw import BaseMiddleware

from davdrive import errors
from provider.error_body import error_body
from provider.file_body import FileBody

_log = logging.getLogger("davdrive")
_PAGE_INFO = re.compile(r"<p>(.*?)</p>", re.DOTALL)
# Texts that name the software behind the server are not shown to clients.
_NAMES_SOFTWARE = re.compile(r"wsgidav|cheroot|python", re.IGNORECASE)

# The status of each domain error: one table for every adapter (davdrive.errors).
STATUS_OF = errors.STATUS_OF


def quoted_etag(etag: str) -> str:
    """The entity tag as the ETag header carries it; getetag holds the same (RFC 4918 15.6)."""
    return f'"{etag}"'


# Where one method's usual answer differs: a MKCOL that lost the race for its name
# gets what it would have got a moment later, 405 (RFC 4918 9.3.1: the URL is mapped).
# A COPY or MOVE with Overwrite: F whose destination another request created meanwhile
# gets 412, as one coming just after would (RFC 4918 9.8.5, 9.9.4), not 409.
STATUS_FOR_METHOD: dict[tuple[str, type[errors.DriveError]], int] = {
    ("MKCOL", errors.CreatedMeanwhile): 405,
    ("COPY Overwrite: F", errors.CreatedMeanwhile): 412,
    ("MOVE Overwrite: F", errors.CreatedMeanwhile): 412,
}


def method_key(environ: dict[str, Any]) -> str:
    """The request's key into ``STATUS_FOR_METHOD``: its method, plus Overwrite: F."""
    method = str(environ.get("REQUEST_METHOD", ""))
    if method in ("COPY", "MOVE") and environ.get("HTTP_OVERWRITE", "").strip().upper() == "F":
        return f"{method} Overwrite: F"
    return method


def status_of(exc: errors.DriveError, method: str = "") -> int:
    for cls in type(exc).__mro__:
        if (method, cls) in STATUS_FOR_METHOD:
            return STATUS_FOR_METHOD[(method, cls)]  # type: ignore[index]
        if cls in STATUS_OF:
            return STATUS_OF[cls]  # type: ignore[index]
    return 400


CONDITION_OF: dict[type[errors.DriveError], str] = {
    errors.ReadOnlyProperty: PRECONDITION_CODE_ProtectedProperty,
    errors.QuotaExceeded: "{DAV:}quota-not-exceeded",  # RFC 4331 section 6
    errors.DiskFull: "{DAV:}sufficient-disk-space",
}


class UserDAVError(DAVError):
    """A DAVError whose user text is only its status and message.

    WsgiDAV copies ``get_user_info()`` into PROPPATCH multistatus bodies, and
    its own version adds the repr of the source exception and of the error
    condition object (a memory address).
    """

    def get_user_info(self) -> str:
        text = f"{self.value}"
        if isinstance(self.context_info, str) and self.context_info:
            text += f": {self.context_info}"
        if self.err_condition is not None:
            text += f" ({self.err_condition.condition_code})"
        return text


def to_dav_error(exc: errors.DriveError, method: str = "") -> DAVError:
    headers = None
    if isinstance(exc, (errors.Throttled, errors.Unavailable)):
        headers = [("Retry-After", str(exc.retry_after))]
    return UserDAVError(
        status_of(exc, method),
        context_info=exc.message,
        add_headers=headers,
        err_condition=CONDITION_OF.get(type(exc)),
    )


@contextmanager
def dav_errors(method: str = "") -> Iterator[None]:
    """Translate domain errors raised inside the block into DAVError (for ``method``,
    the request's method, where its answer differs; see ``STATUS_FOR_METHOD``)."""
    try:
        yield
    except errors.DriveError as exc:
        raise to_dav_error(exc, method) from None
    except Exception as exc:
        failure = errors.failure_of(exc)
        if failure is None:
            raise
        _log.warning("%s on %s: %s", type(failure).__name__, method or "a request", exc)
        raise to_dav_error(failure, method) from None


@contextmanager
def contained_errors() -> Iterator[None]:
    """Like ``dav_errors``, and any unexpected exception becomes a logged, plain 500.

    For hooks whose errors WsgiDAV writes into a response body itself
    (PROPPATCH), where the generic error printer never sees them.
    """
    try:
        yield
    except errors.DriveError as exc:
        raise to_dav_error(exc) from None
    except DAVError:
        raise
    except Exception as exc:
        failure = errors.failure_of(exc)
        if failure is not None:
            _log.warning("%s in a WebDAV hook: %s", type(failure).__name__, exc)
            raise to_dav_error(failure) from None
        _log.exception("internal error in a WebDAV hook")
        raise UserDAVError(500, "Internal error; it has been logged.") from None


def plain_response(
    start_response: Any, status: str, text: str, headers: list[tuple[str, str]] | None = None
) -> list[bytes]:
    """A one-line text answer; for an error status (4xx/5xx) the DAV error element
    of ``provider.error_body`` instead, its message ``text`` without the status line."""
    code = int(status[:3])
    if code >= 400:
        message = text.strip()
        if message.startswith(status):
            message = message[len(status):].strip()
        return error_response(start_response, status, message, headers)
    body = (text.rstrip("\n") + "\n").encode("utf-8")
    start_response(
        status,
        [
            ("Content-Type", "text/plain; charset=utf-8"),
            ("Content-Length", str(len(body))),
            ("X-Content-Type-Options", "nosniff"),
        ]
        + (headers or []),
    )
    return [body]


def error_response(
    start_response: Any,
    status: str,
    message: str,
    headers: list[tuple[str, str]] | None = None,
    conditions: Iterable[Any] = (),
) -> list[bytes]:
    """An error answer: DAV error element with ``message`` (a sentence) and any RFC 4918
    condition elements."""
    if _NAMES_SOFTWARE.search(message):
        message = ""
    body = error_body(int(status[:3]), message, conditions)
    start_response(
        status,
        [
            ("Content-Type", "application/xml; charset=utf-8"),
            ("Content-Length", str(len(body))),
            ("X-Content-Type-Options", "nosniff"),
        ]
        + (headers or []),
    )
    return [body]


def _wsgi_text(value: str) -> str:
    """A WSGI path (UTF-8 bytes as latin-1) as the text it stands for."""
    try:
        return value.encode("latin-1").decode("utf-8")
    except UnicodeError:
        return value


def _internal(e: DAVError) -> bool:
    """An error of the server itself (logged with its traceback), not a deliberate answer."""
    return e.value == 500 or (e.value > 500 and e.src_exception is not None)


def full_status(status: str) -> str:
    """``"507 Insufficient Storage"``: WsgiDAV has no phrase for some codes ("507 Status")."""
    code, _, phrase = status.partition(" ")
    if phrase == "Status" and code.isdigit():
        with suppress(ValueError):
            return f"{code} {HTTPStatus(int(code)).phrase}"
    return status


def status_line(e: DAVError) -> str:
    return full_status(get_http_status_string(e))


def _dav_error_response(
    e: DAVError, start_response: Any, environ: dict[str, Any]
) -> list[bytes]:
    status = status_line(e)
    headers = list(e.add_headers or [])
    if e.value in (204, 304):
        start_response(status, [("Content-Length", "0")] + headers)
        return [b""]
    message = e.context_info if isinstance(e.context_info, str) else ""
    if message and message == environ.get("PATH_INFO"):  # WsgiDAV names the path in the mount
        message = _wsgi_text(environ.get("SCRIPT_NAME", "") + message)
    if _internal(e):
        message = "Internal error; it has been logged."
    conditions: list[Any] = []
    if e.err_condition:
        if e.err_condition.hrefs:  # a lock conflict names only what the actor sees
            from provider.rights_first import visible_hrefs

            e.err_condition.hrefs = visible_hrefs(environ, e.err_condition.hrefs)
        conditions = list(e.err_condition.as_xml())
    return error_response(start_response, status, message, headers, conditions)


def answerable_error(exc: Exception, environ: dict[str, Any]) -> DAVError:
    """The ``DAVError`` to answer for ``exc`` raised while handling a request, logged as
    its kind deserves: a full disk is a 507, a domain error its mapped status, anything
    unexpected a generic 500 (traceback in the log only)."""
    if isinstance(exc, DAVError):
        e = exc
        failure = errors.failure_of(e.src_exception) if e.src_exception else None
        if e.value >= 500 and failure is not None:
            _log.warning("%s on %s %s: %s", type(failure).__name__,
                         environ.get("REQUEST_METHOD"), environ.get("PATH_INFO"),
                         e.src_exception)
            e = to_dav_error(failure)
        if _internal(e):
            _log.error("internal error: %s", e.get_user_info(), exc_info=e.src_exception)
        elif e.src_exception is not None:
            # A client error found by WsgiDAV (e.g. XML it cannot parse): one line.
            _log.info("%s %s: %s (%s)", environ.get("REQUEST_METHOD"),
                      environ.get("PATH_INFO"), e.value, e.src_exception)
        return e
    if isinstance(exc, errors.DriveError):
        return to_dav_error(exc, environ.get("REQUEST_METHOD", ""))
    failure = errors.failure_of(exc)
    if failure is not None:
        _log.warning("%s on %s %s: %s", type(failure).__name__, environ.get("REQUEST_METHOD"),
                     environ.get("PATH_INFO"), exc)
        return to_dav_error(failure)
    _log.exception("unexpected error on %s %s", environ.get("REQUEST_METHOD"),
                   environ.get("PATH_INFO"))
    return DAVError(500)


def error_answer(
    e: DAVError, environ: dict[str, Any], start_response: Any
) -> list[bytes]:
    """The answer ``SafeErrorPrinter`` gives for ``e`` (for handlers outside WsgiDAV)."""
    return _dav_error_response(e, start_response, environ)


class SafeErrorPrinter(BaseMiddleware):
    """WsgiDAV middleware: DAVError -> clean answer, anything else -> generic 500."""

    def is_disabled(self) -> bool:
        return False

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Iterator[bytes]:
        captured = util.SubAppStartResponse()
        started = False
        try:
            app_iter = self.next_app(environ, captured)
            try:
                for chunk in app_iter:
                    if not started:
                        start_response(
                            captured.status, captured.response_headers, captured.exc_info
                        )
                        started = True
                    yield chunk
            finally:
                if hasattr(app_iter, "close"):
                    app_iter.close()
            if not started:
                start_response(captured.status, captured.response_headers, captured.exc_info)
            return
        except Exception as exc:
            error = answerable_error(exc, environ)
        if started:
            # Headers already sent: the only honest thing left is to cut the stream.
            raise ConnectionAbortedError("response aborted after an internal error")
        yield from _dav_error_response(error, start_response, environ)


def _is_status_page(method: str, status: str, headers: list[tuple[str, str]]) -> bool:
    """WsgiDAV's HTML status pages (they name WsgiDAV and its version), not file content."""
    html = any(
        k.lower() == "content-type" and v.lower().startswith("text/html") for k, v in headers
    )
    return html and (method not in ("GET", "HEAD") or int(status[:3]) >= 300)


class StatusPageScrubber:
    """Replaces WsgiDAV's HTML status pages by the plain-text status line.

    WsgiDAV renders "201 Created", errors of DELETE/COPY/MOVE members and path
    errors as an HTML page that links to WsgiDAV and shows its version. Files
    are served untouched: a GET/HEAD answer below 300 is never rewritten.
    """

    def __init__(self, app: Any) -> None:
        self.app = app

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        method = environ.get("REQUEST_METHOD", "")
        page: list[tuple[str, list[tuple[str, str]]]] = []

        def capture(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            if _is_status_page(method, status, headers):
                page.append((status, headers))
                return lambda data: None
            return start_response(full_status(status), headers, exc_info)

        body = self.app(environ, capture)
        if isinstance(body, FileBody) and not page:  # a file: never a status page
            return body
        return self._iterate(body, page, start_response)

    @staticmethod
    def _iterate(
        body: Iterable[bytes], page: list[Any], start_response: Any
    ) -> Iterator[bytes]:
        chunk = b""
        try:
            for chunk in body:
                if page:
                    break
                yield chunk
            if page:
                raw_status, headers = page[0]
                status = full_status(raw_status)
                kept = [
                    (k, v) for k, v in headers
                    if k.lower() not in ("content-type", "content-length", "date")
                ]
                text = status
                found = _PAGE_INFO.search(chunk.decode("utf-8", "replace")) if chunk else None
                info = html.unescape(found.group(1)).strip() if found else ""
                info = info.removeprefix(raw_status).removeprefix(status)
                if info.startswith(status[:3] + ":"):  # "507: message"
                    info = info[4:]
                if info and not _NAMES_SOFTWARE.search(info):
                    text += "\n" + info.lstrip(": ")
                yield from plain_response(start_response, status, text.strip(), kept)
        finally:
            close = getattr(body, "close", None)
            if close is not None:
                close()
