"""The thread that waits on connections so that worker threads do not.

``HeadWaiter.add``: collect a request head without blocking; hand the
connection to the worker pool once the head is complete (or too large), or
answer 408 when ``header_timeout`` passes first. ``HeadWaiter.linger``: a
half-closed connection whose unread body is discarded until the client
closes or ``LINGER_SECONDS`` pass.
"""

from __future__ import annotations

import contextlib
import logging
import queue
import selectors
import socket
import ssl
import threading
import time
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from provider.http_server import DriveHTTPServer, GuardedConnection

_log = logging.getLogger("davdrive.http")
HEAD_END = b"\r\n\r\n"
LINGER_SECONDS = 2.0  # after an answer to a request whose body was not read


def send_and_close(
    conn: GuardedConnection, status: str, text: str, extra: str = ""
) -> None:
    """Answer ``status`` with ``text`` (``extra``: more header lines, CRLF-ended), then close."""
    body = (text + "\n").encode()
    head = (
        f"HTTP/1.1 {status}\r\nContent-Type: text/plain; charset=utf-8\r\n"
        f"Content-Length: {len(body)}\r\n{extra}Connection: close\r\n\r\n"
    ).encode()
    try:
        conn.socket.setblocking(False)
        conn.socket.send(head + body)
    except (OSError, ssl.SSLError):
        pass
    conn.drain_on_close = True  # the request is still unread: no reset before the answer
    conn.close()


class HeadWaiter:
    """One thread that waits on connections without blocking a worker.

    ``add``: read a request head; once complete, hand the connection to the
    worker pool. ``linger``: a half-closed connection whose client may still
    be sending a body nobody reads; it is read and discarded until the client
    closes or ``LINGER_SECONDS`` pass, then closed (closing a socket with
    unread data sends a reset, which can destroy the answer before the client
    has read it).
    """

    def __init__(self, server: DriveHTTPServer) -> None:
        self.server = server
        self._incoming: queue.SimpleQueue[tuple[str, GuardedConnection]] = queue.SimpleQueue()
        self._wake_r, self._wake_w = socket.socketpair()
        self._stopping = False
        self._thread = threading.Thread(target=self._run, name="davdrive-heads", daemon=True)
        # fd -> (what, connection, deadline); only touched by the waiter thread
        self._waiting: dict[int, tuple[str, GuardedConnection, float]] = {}

    def start(self) -> None:
        self._thread.start()

    def add(self, conn: GuardedConnection) -> None:
        self._incoming.put(("head", conn))
        self._wakeup()

    def linger(self, conn: GuardedConnection) -> None:
        self._incoming.put(("linger", conn))
        self._wakeup()

    def stop(self) -> None:
        self._stopping = True
        self._wakeup()
        self._thread.join(timeout=5)
        self._wake_r.close()
        self._wake_w.close()

    def _wakeup(self) -> None:
        with contextlib.suppress(OSError):
            self._wake_w.send(b"x")

    def _run(self) -> None:
        selector = selectors.DefaultSelector()
        selector.register(self._wake_r, selectors.EVENT_READ, None)
        try:
            while not self._stopping:
                for key, _events in selector.select(timeout=0.25):
                    if key.fd == self._wake_r.fileno():
                        with contextlib.suppress(OSError):
                            self._wake_r.recv(4096)
                    elif key.fd in self._waiting:
                        self._serve(key.fd, selector)
                self._take_incoming(selector)
                self._expire(selector)
        finally:
            for _what, conn, _deadline in list(self._waiting.values()):
                conn.close_now()
            self._waiting.clear()
            while not self._incoming.empty():
                self._incoming.get_nowait()[1].close_now()
            selector.close()

    def _take_incoming(self, selector: Any) -> None:
        while True:
            try:
                what, conn = self._incoming.get_nowait()
            except queue.Empty:
                return
            try:
                conn.socket.setblocking(False)
                fd = conn.socket.fileno()
                if what == "head":
                    deadline = (conn.head_started or time.monotonic()) + self.server.header_timeout
                else:
                    deadline = time.monotonic() + LINGER_SECONDS
                self._waiting[fd] = (what, conn, deadline)
                selector.register(fd, selectors.EVENT_READ, None)
            except (OSError, ValueError):
                conn.close_now()
                continue
            self._serve(fd, selector)  # TLS may already hold decrypted bytes

    def _drop(self, fd: int, selector: Any) -> GuardedConnection:
        _what, conn, _deadline = self._waiting.pop(fd)
        with contextlib.suppress(KeyError, ValueError):
            selector.unregister(fd)
        return conn

    def _serve(self, fd: int, selector: Any) -> None:
        what, conn, _deadline = self._waiting[fd]
        guard = conn.rfile.guard
        limit = self.server.max_request_header_size or 1 << 20
        while True:
            try:
                data = conn.socket.recv(65536)
            except (BlockingIOError, ssl.SSLWantReadError, ssl.SSLWantWriteError):
                return
            except (OSError, ssl.SSLError):
                data = b""
            if not data:
                self._drop(fd, selector).close_now()
                return
            if what == "linger":
                continue
            guard.prefix += data
            if HEAD_END in guard.prefix or len(guard.prefix) > limit:
                self.server.dispatch(self._drop(fd, selector))
                return

    def _expire(self, selector: Any) -> None:
        now = time.monotonic()
        for fd in [fd for fd, (_w, _c, deadline) in self._waiting.items() if now > deadline]:
            what = self._waiting[fd][0]
            conn = self._drop(fd, selector)
            if what == "linger":
                conn.close_now()
                continue
            timeout = self.server.header_timeout
            _log.info("request headers from %s not complete after %ss: closed",
                      conn.remote_addr, timeout)
            send_and_close(conn, "408 Request Timeout",
                            f"The request headers did not arrive within {timeout} seconds.")
