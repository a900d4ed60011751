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
``serve`` flushes them every ``stats.flush_seconds`` from a background thread
(``StatsFlusher``) and when it stops.

``serve(settings)`` holds the data folder's server lock (``davdrive.folder_lock``:
one server per data folder; ``server.workers`` processes share it and one
listening socket, see ``davdrive.workers``) and, on PostgreSQL, the database's
shared serve lock (``davdrive.serve_guard``: no server during a storage move),
starts the periodic clean-up (``davdrive.housekeeping``) and the nightly backup
(``davdrive.nightly``, in one process only) when configured, and runs the app under cheroot
(``provider.http_server``: strict request parsing, head and body timeouts, a
cap per source address), with TLS when configured. No answer names a product or library version.
"""

from __future__ import annotations

import logging
import os
import signal
import socket
import sys
import threading
import time
from collections.abc import Iterable
from typing import Any
from urllib.parse import quote

from wsgidav.request_resolver import RequestResolver
from wsgidav.wsgidav_app import WsgiDAVApp

from auth.credential_cache import CredentialCache
from auth.domain_controller import BasicAuthMiddleware, DriveDomainController
from auth.verify_gate import VerifyGate, default_slots
from davdrive import serve_guard
from davdrive.connection_stats import StatsFlusher
from davdrive.errors import failure_of
from davdrive.folder_lock import serving
from davdrive.group_commit import GroupCommit
from davdrive.housekeeping import Housekeeper
from davdrive.nightly import start_nightly
from davdrive.runtime import Runtime, open_runtime
from davdrive.settings import Settings
from davdrive.workers import supervise
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
from provider.http_server import DriveHTTPServer
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
        _remove_stale_temp(runtime, started)
    return DriveApp(settings, runtime)


def _remove_stale_temp(runtime: Runtime, started: float) -> None:
    stale = runtime.blobs.remove_stale_temp(started)
    if stale:
        _log.info("removed %d stale upload temp file(s) left by an earlier run", len(stale))


def make_server(app: DriveApp, listener: socket.socket | None = None) -> DriveHTTPServer:
    """The cheroot server for ``app``: strict parsing, timeouts, per-address cap; on
    ``listener`` (a listening socket shared with other processes) when given."""
    s = app.settings
    server = DriveHTTPServer(
        (s["server.host"], s["server.port"]),
        app,
        threads=s["server.threads"],
        header_timeout=s["server.header_timeout"],
        body_timeout=s["server.body_timeout"],
        max_per_ip=s["server.max_connections_per_ip"],
        allowed_hosts=frozenset(h.lower() for h in s["server.allowed_hosts"]),
        listen_backlog=s["server.listen_backlog"],
        listener=listener,
        sendfile=s["server.sendfile"],
    )
    # cheroot answers 413 itself past this; the hardening middleware gives 431 below it.
    server.max_request_header_size = s["dav.max_header_bytes"] + 8192
    if s["server.tls_cert"]:
        from cheroot.ssl.builtin import BuiltinSSLAdapter

        server.ssl_adapter = BuiltinSSLAdapter(s["server.tls_cert"], s["server.tls_key"])
    return server


def serve(settings: Settings) -> int:
    """Serve until interrupted; prints the URL once the socket is bound.

    With ``server.workers`` above 1 the parent opens (and migrates) the data
    folder once, binds the listening socket and supervises that many worker
    processes on it (``davdrive.workers``); it holds the server lock throughout.
    """
    logging.basicConfig(
        level=settings["log.level"].upper(), format="%(asctime)s %(levelname)s %(message)s"
    )
    # A new host of a drive on a server database has nothing to init: its data folder
    # (server lock, chunked uploads) is made here, as open_runtime would.
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    # One server per data folder; none while a storage move runs (davdrive.serve_guard).
    with serving(settings.data_dir), serve_guard.serving(settings.database_url):
        if settings["server.workers"] > 1:
            return _serve_workers(settings)
        app = create_app(settings)
        server = make_server(app)
        server.prepare()
        _announce(settings, server.bind_addr[:2], app.mount)
        nightly = start_nightly(app.runtime)
        housekeeper = start_housekeeping(app)
        flusher = start_stats_flusher(app)
        try:
            server.serve()
        except KeyboardInterrupt:
            print("Stopping.", file=sys.stderr)
        finally:
            if nightly is not None:
                nightly.stop()
            server.stop()
            if housekeeper is not None:
                housekeeper.stop()
            flusher.stop()
            app.close()
    return 0


def start_housekeeping(app: DriveApp) -> Housekeeper | None:
    """The periodic trash purge and garbage collection (``davdrive.housekeeping``),
    unless ``storage.collect_minutes`` is 0; one process of the data folder (of the
    drive, on PostgreSQL) runs it."""
    s = app.settings
    if not s["storage.collect_minutes"]:
        return None
    return Housekeeper(
        s.data_dir, app.runtime.sessions, app.runtime.blobs,
        trash_days=s["storage.trash_days"], interval=s["storage.collect_minutes"] * 60.0,
        engine=app.runtime.engine,
    ).start()


def start_stats_flusher(app: DriveApp) -> StatsFlusher:
    """The thread that stores ``app``'s connection counters every ``stats.flush_seconds``
    (``stop`` it after the server: it stores what is left)."""
    runtime = app.runtime
    return StatsFlusher(
        runtime.connection_stats, runtime.sessions, app.settings["stats.flush_seconds"]
    ).start()


def _announce(settings: Settings, address: tuple[str, int], mount: str, note: str = "") -> None:
    scheme = "https" if settings["server.tls_cert"] else "http"
    print(f"Serving on {scheme}://{address[0]}:{address[1]}{mount}/{note}", flush=True)


def _serve_workers(settings: Settings) -> int:
    started = time.time()
    runtime = open_runtime(settings)  # migrates once, before any worker starts
    try:
        _remove_stale_temp(runtime, started)
    finally:
        runtime.close()
    host, port = settings["server.host"], settings["server.port"]
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    listener = socket.create_server(
        (host, port), family=family, backlog=settings["server.listen_backlog"]
    )
    listener.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    count = settings["server.workers"]
    _announce(settings, listener.getsockname()[:2], settings["dav.mount"],
              f" ({count} worker processes)")
    try:
        status = supervise(count, lambda slot: _work(settings, listener, slot))
    finally:
        listener.close()
    print("Stopped.", file=sys.stderr)
    return status


def _work(settings: Settings, listener: socket.socket, slot: int) -> int:
    """One worker process: its own engine, app and cheroot server on ``listener``;
    SIGTERM or SIGINT stops it, and so does the end of its parent (even by SIGKILL:
    no orphaned worker keeps the port and the data folder). Worker 0 (started again
    in the same slot when it ends) also runs the nightly backup."""
    parent = os.getppid()
    app = create_app(settings, clean_temp=False)
    server = make_server(app, listener)
    nightly = start_nightly(app.runtime) if slot == 0 else None

    def _interrupt(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, _interrupt)
    signal.signal(signal.SIGINT, _interrupt)
    threading.Thread(target=_stop_when_orphaned, args=(parent,), daemon=True).start()
    housekeeper = start_housekeeping(app)
    flusher = start_stats_flusher(app)
    try:
        server.prepare()
        server.serve()
    except KeyboardInterrupt:
        pass
    finally:
        if nightly is not None:
            nightly.stop()
        server.stop()
        if housekeeper is not None:
            housekeeper.stop()
        flusher.stop()
        app.close()
    return 0


def _stop_when_orphaned(parent: int) -> None:
    while os.getppid() == parent:
        time.sleep(1)
    os.kill(os.getpid(), signal.SIGTERM)
