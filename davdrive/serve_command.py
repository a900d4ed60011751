"""``davdrive serve``: the HTTP server process (or processes) around the app.

``serve(settings)`` holds the data folder's server lock (``davdrive.folder_lock``:
one server per data folder; ``server.workers`` processes share it and one
listening socket, see ``davdrive.workers``) and, on PostgreSQL, the database's
shared serve lock (``davdrive.serve_guard``: no server during a storage move),
starts the periodic clean-up (``davdrive.housekeeping``) and the nightly
backup (``davdrive.nightly``, in one process only) when configured, and runs
the app under cheroot (``make_server``, ``provider.http_server``: strict
request parsing, head and body timeouts, a cap per source address), with TLS
when configured. The app itself is built by ``davdrive.server.create_app``.
"""

from __future__ import annotations

import logging
import os
import signal
import socket
import sys
import threading
import time
from typing import Any

from davdrive import serve_guard
from davdrive.connection_stats import StatsFlusher
from davdrive.folder_lock import serving
from davdrive.housekeeping import Housekeeper
from davdrive.nightly import start_nightly
from davdrive.runtime import open_runtime
from davdrive.server import DriveApp, create_app, remove_stale_temp
from davdrive.settings import Settings
from davdrive.workers import supervise
from provider.http_server import DriveHTTPServer

_log = logging.getLogger("davdrive")


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
        try:
            _run(app, server, nightly=True)
        except KeyboardInterrupt:
            print("Stopping.", file=sys.stderr)
    return 0


def _run(app: DriveApp, server: DriveHTTPServer, *, nightly: bool) -> None:
    """Serve until interrupted, with the background tasks: the nightly backup (when
    ``nightly``), the periodic clean-up and the statistics flusher; then stop them
    (the backup first, the flusher after the server: it stores what is left) and
    close the app, however serving ended."""
    backup = start_nightly(app.runtime) if nightly else None
    housekeeper = start_housekeeping(app)
    flusher = start_stats_flusher(app)
    try:
        server.serve()
    finally:
        if backup is not None:
            backup.stop()
        server.stop()
        if housekeeper is not None:
            housekeeper.stop()
        flusher.stop()
        app.close()


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
        remove_stale_temp(runtime, started)
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

    def _interrupt(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, _interrupt)
    signal.signal(signal.SIGINT, _interrupt)
    threading.Thread(target=_stop_when_orphaned, args=(parent,), daemon=True).start()
    try:
        server.prepare()
        _run(app, server, nightly=slot == 0)
    except KeyboardInterrupt:
        pass
    return 0


def _stop_when_orphaned(parent: int) -> None:
    while os.getppid() == parent:
        time.sleep(1)
    os.kill(os.getpid(), signal.SIGTERM)
