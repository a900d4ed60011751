"""App factory and HTTP server: the only module that wires core, provider and auth.

``create_app(settings)`` returns a ``DriveApp`` (a WSGI callable) with this
stack, outermost first:

    CatchAll -> HeadersOnly -> HardeningMiddleware -> router
        /            OPTIONS answered with DAV headers, no credentials; a browser's GET
                     is sent to /files/ (the web drive; its sign-in page first)
        /admin/...   TrafficCounter("admin") -> the browser side (web.create_web_app,
        /files/...   Flask): the admin view and the members' web drive
        <mount>/...  a browser opening a page there without credentials is sent to
                     the same path under /files/
        <mount>/...  TrafficCounter("dav") -> ContextMiddleware -> BasicAuthMiddleware
                     -> FastPut -> NextcloudLayout
                     -> XmlBodyMiddleware -> FastReads -> StatusPageScrubber
                     -> StreamedResponses -> FileResponses -> WsgiDAV(DriveProvider)
                     (NextcloudLayout: <mount>/files/LOGIN/ is the drive again,
                     <mount>/uploads/LOGIN/ goes to ChunkedUploads)

HardeningMiddleware reads no body; XML bodies are read and parsed only after
authentication. The two ``TrafficCounter`` count requests and body bytes per
signed-in login in the runtime's ``connection_stats`` (no SQL per request);
the server process flushes them every ``stats.flush_seconds`` from a
background thread (``StatsFlusher``) and when it stops.

``davdrive.serve_command`` runs the app under cheroot (``serve``). No answer
names a product or library version.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable
from typing import Any
from urllib.parse import quote

from wsgidav.request_resolver import RequestResolver
from wsgidav.wsgidav_app import WsgiDAVApp

from auth.credential_cache import CredentialCache
from auth.domain_controller import BasicAuthMiddleware, DriveDomainController
from auth.verify_gate import VerifyGate, default_slots
from davdrive.errors import failure_of
from davdrive.group_commit import GroupCommit
from davdrive.runtime import Runtime, open_runtime
from davdrive.settings import Settings
from provider.body_input import install_quiet_body_errors
from provider.chunk_uploads import ChunkedUploads
from provider.context import ContextMiddleware, CurrentRequest, signed_in_login
from provider.dav_provider import DriveProvider
from provider.errors import (
    SafeErrorPrinter,
    StatusPageScrubber,
    error_answer,
    plain_response,
    to_dav_error,
)
from provider.fast_put import FastPut
from provider.fast_read import FastReads
from provider.file_responses import FileResponses
from provider.hardening import HardeningMiddleware, Limits
from provider.head_answers import HeadersOnly
from provider.lock_manager import DriveLockManager, LockLimits
from provider.lock_storage import SqlLockStorage
from provider.nextcloud_layout import NextcloudLayout
from provider.propfind import StreamedResponses
from provider.traffic import TrafficCounter
from provider.xml_body import XmlBodyMiddleware
from web import create_web_app
from web.request_state import signed_in_login as web_login

_log = logging.getLogger("davdrive")

DAV_HEADERS = [
    ("DAV", "1, 2"),
    ("MS-Author-Via", "DAV"),
    ("Allow", "OPTIONS, GET, HEAD, PROPFIND, PUT, DELETE, COPY, MOVE, MKCOL, PROPPATCH, "
              "LOCK, UNLOCK"),
]


def _wsgidav_config(settings: Settings, runtime: Runtime) -> dict[str, Any]:
    return {
        "provider_mapping": {
            settings["dav.mount"]: DriveProvider(stream_propfind=settings["dav.stream_propfind"])
        },
        "lock_storage": SqlLockStorage(runtime.sessions),
        "property_manager": None,
        "middleware_stack": [SafeErrorPrinter, RequestResolver],
        "http_authenticator": {
            "accept_basic": True,
            "accept_digest": False,
            "default_to_digest": False,
            "trusted_auth_header": None,
        },
        "dir_browser": {"enable": False},
        "block_size": 1024 * 1024,
        "add_header_MS_Author_Via": True,
        "honor_mtime_header": False,
        "suppress_version_info": True,
        "verbose": 1,
        "logging": {"enable": False},
    }


def _install_lock_manager(dav: WsgiDAVApp, settings: Settings, current: CurrentRequest) -> None:
    """Replace WsgiDAV's lock manager by ours (same storage, limits, indexed checks,
    one lock query per write request)."""
    manager = DriveLockManager(
        dav.lock_manager.storage,
        LockLimits(
            owner_max_bytes=settings["dav.lock_owner_max_bytes"],
            per_item=settings["dav.locks_per_item"],
            per_user=settings["dav.locks_per_user"],
        ),
        current,
        settings["dav.mount"],
    )
    dav.lock_manager = manager
    for provider in dav.provider_map.values():
        provider.set_lock_manager(manager)


ADMIN = "/admin"
FILES = "/files"


def _from_browser(environ: dict[str, Any]) -> bool:
    """A browser asks for HTML first; WebDAV clients and scripts do not."""
    return "text/html" in environ.get("HTTP_ACCEPT", "")


def _browser_navigation(environ: dict[str, Any]) -> bool:
    """A page a browser opens (its address bar or a link) without WebDAV credentials:
    only browsers send ``Sec-Fetch-Mode: navigate``, and a WebDAV client always
    signs in, so no WebDAV client is ever sent to the web drive."""
    return (environ.get("REQUEST_METHOD") in ("GET", "HEAD")
            and environ.get("HTTP_SEC_FETCH_MODE") == "navigate"
            and "HTTP_AUTHORIZATION" not in environ and _from_browser(environ))


def _redirect(start_response: Any, location: str) -> Iterable[bytes]:
    start_response("302 Found", [("Location", location), ("Content-Length", "0")])
    return [b""]


class DriveApp:
    """The whole WSGI application; ``runtime`` and ``provider`` give tests access
    to the engine and to the WebDAV provider."""

    def __init__(self, settings: Settings, runtime: Runtime) -> None:
        self.settings = settings
        self.runtime = runtime
        self.mount = settings["dav.mount"]
        dav = WsgiDAVApp(_wsgidav_config(settings, runtime))
        current = CurrentRequest()
        _install_lock_manager(dav, settings, current)
        self.provider = dav.provider_map[self.mount]
        self.controller = DriveDomainController(
            runtime,
            CredentialCache(settings["auth.cache_seconds"]),
            settings["auth.realm"],
            VerifyGate(
                settings["auth.max_parallel_checks"] or default_slots(),
                settings["auth.check_wait_ms"] / 1000,
            ),
        )
        install_quiet_body_errors()
        # XML bodies are read only once the client is signed in; the streamed
        # PROPFIND sits inside, on the checked body.
        # The read fast path sits on the checked body, directly outside WsgiDAV.
        core: Any = StatusPageScrubber(StreamedResponses(FileResponses(dav)))
        if settings["dav.fast_path"]:
            core = FastReads(core, self.mount, self.provider)
        inner = XmlBodyMiddleware(core, settings["dav.max_xml_bytes"])
        layout = NextcloudLayout(inner, self.mount, self.provider)
        layout.uploads = ChunkedUploads(
            settings.data_dir / "chunks", self.provider, layout,
            settings["dav.max_upload_bytes"],
        )
        signed_in = FastPut(
            layout, self.mount, self.provider, enabled=settings["dav.fast_put"],
            commits=GroupCommit(runtime.engine),
        )
        stats = runtime.connection_stats
        self._web = TrafficCounter(create_web_app(settings, runtime), stats, "admin", web_login)
        self._dav = TrafficCounter(
            ContextMiddleware(BasicAuthMiddleware(signed_in, self.controller), runtime, current),
            stats, "dav", signed_in_login,
        )
        self._app = HeadersOnly(HardeningMiddleware(
            self._route,
            Limits(
                mount=self.mount,
                max_header_bytes=settings["dav.max_header_bytes"],
                max_xml_bytes=settings["dav.max_xml_bytes"],
                max_upload_bytes=settings["dav.max_upload_bytes"],
                allow_infinite_propfind=settings["dav.allow_infinite_propfind"],
            ),
        ))

    def _route(self, environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "") or "/"
        if path == self.mount or path.startswith(self.mount + "/"):
            if _browser_navigation(environ):  # the same place in the web drive
                rest = quote(path[len(self.mount):].encode("latin-1"), safe="/")  # WSGI bytes
                return _redirect(start_response, FILES + (rest or "/"))
            return self._dav(environ, start_response)  # type: ignore[no-any-return]
        if path.startswith((ADMIN + "/", FILES + "/")) or path in (ADMIN, FILES):
            return self._web(environ, start_response)  # type: ignore[no-any-return]
        method = environ.get("REQUEST_METHOD", "")
        if path == "/" and method == "OPTIONS":
            start_response("200 OK", [*DAV_HEADERS, ("Content-Length", "0")])
            return [b""]
        if path == "/" and method in ("GET", "HEAD") and _from_browser(environ):
            return _redirect(start_response, FILES + "/")
        if path == "/" and method in ("GET", "HEAD"):
            return plain_response(
                start_response,
                "200 OK",
                f"davdrive: connect your WebDAV client to {self.mount}/",
            )
        return plain_response(start_response, "404 Not Found", "404 Not Found")

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        try:
            return self._app(environ, start_response)  # type: ignore[no-any-return]
        except Exception as exc:
            failure = failure_of(exc)
            if failure is not None:  # a full disk, the database or object store out of reach
                _log.warning("%s on %s %s: %s", type(failure).__name__,
                             environ.get("REQUEST_METHOD"), environ.get("PATH_INFO"), exc)
                body = error_answer(to_dav_error(failure), environ, start_response)
            else:
                _log.exception("unexpected error outside WsgiDAV")
                body = plain_response(start_response, "500 Internal Server Error",
                                      "Internal error; it has been logged.")
            return [] if environ.get("REQUEST_METHOD") == "HEAD" else body

    def close(self) -> None:
        self.runtime.close()


def create_app(
    settings: Settings, runtime: Runtime | None = None, *, clean_temp: bool = True
) -> DriveApp:
    """Build the WSGI app; opens (and migrates) the data folder unless given a runtime.

    Temp files older than this start are removed (unless ``clean_temp`` is False:
    a worker process, whose parent cleaned before starting it): no upload is in
    flight before the app exists (one server per data folder), so they are what a
    killed process left.
    """
    started = time.time()
    runtime = runtime or open_runtime(settings)
    if clean_temp:
        remove_stale_temp(runtime, started)
    return DriveApp(settings, runtime)


def remove_stale_temp(runtime: Runtime, started: float) -> None:
    stale = runtime.blobs.remove_stale_temp(started)
    if stale:
        _log.info("removed %d stale upload temp file(s) left by an earlier run", len(stale))
