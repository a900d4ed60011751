"""cheroot server that slow or greedy clients cannot exhaust.

- A connection reaches a worker thread only once its whole request head
  (request line and headers, up to the empty line) has arrived: until then
  one ``HeadWaiter`` thread (``provider.head_waiter``) reads it without
  blocking. A client that trickles its headers therefore holds no worker,
  and one that has not sent a complete head ``header_timeout`` seconds after
  connecting (or after its previous request, on a kept-alive connection)
  gets 408 and is closed.
- A connection answered without its body being read is half-closed and
  left to the head waiter to discard the rest, instead of being drained.
- While a request body is read, a read that waits more than ``body_timeout``
  seconds for the next byte ends the request (408) and the connection.
- ``max_per_ip`` caps the simultaneous connections from one source address
  (0: no cap); a connection past it gets 503 and is closed at once, without
  a worker thread.
- Requests are parsed by ``StrictHTTPRequest`` (see ``provider.strict_http``).
- An answer's head leaves with its first body bytes, in one ``send``
  (``provider.answer_writer``).
- Answers go out through ``provider.wsgi_gateway``: ``wsgi.file_wrapper`` bodies
  in 1 MiB blocks, or with ``sendfile`` on plain HTTP when ``sendfile`` is set;
  large blocks without copies.
- ``listener``: a listening socket made by the caller (``serve --workers N``:
  one socket shared by N processes) instead of cheroot's own.
- A worker that has answered on a kept-alive plain connection waits up to
  ``KEEP_SERVING`` seconds for the client's next request head and answers it
  itself, when no other connection waits for a worker: a client's requests
  back to back then cost no hand-over to the connection selector, the head
  waiter and another worker (three thread switches each). A head that does
  not arrive whole in time takes the usual way.
- The listen backlog holds ``listen_backlog`` connections (setting
  ``server.listen_backlog``; cheroot's default of 5 made the kernel reset
  clients that connect together and send a body at once, such as a sync
  client's parallel uploads).
"""

from __future__ import annotations

import contextlib
import logging
import socket
import ssl
import threading
import time
from typing import Any

from cheroot import server as cheroot_server
from cheroot import wsgi
from cheroot.makefile import MakeFile

from provider.answer_writer import AnswerWriter
from provider.guarded_reader import GuardedReader
from provider.head_waiter import HEAD_END, HeadWaiter, send_and_close
from provider.wsgi_gateway import DirectWriteRequest, DriveGateway

_log = logging.getLogger("davdrive.http")

LISTEN_BACKLOG = 1024  # default of server.listen_backlog; the kernel caps it at somaxconn
# After an answer on a kept-alive plain connection, its worker waits this long for the
# next request head before handing the connection back (see GuardedConnection.communicate).
KEEP_SERVING = 0.01
PEEK_BYTES = 8192  # how much of the next request is looked at for its end of head


class GuardedConnection(cheroot_server.HTTPConnection):  # type: ignore[misc]
    """A connection with a head deadline, a body idle timeout and a per-address slot."""

    RequestHandlerClass = DirectWriteRequest

    def __init__(self, server: DriveHTTPServer, sock: Any, makefile: Any = MakeFile) -> None:
        super().__init__(server, sock, makefile)
        self.rfile.close()
        self.rfile = GuardedReader(sock, server.body_timeout)
        self.wfile.close()
        self.wfile = AnswerWriter(sock, self.wbufsize)
        self.head_started: float | None = None
        self.slot: str | None = None
        self.drain_on_close = False

    def arm_head_deadline(self) -> None:
        start = self.head_started or time.monotonic()
        self.rfile.guard.deadline = start + self.server.header_timeout

    def disarm_head_deadline(self) -> None:
        self.rfile.guard.deadline = None
        self.head_started = None

    def head_received(self) -> bool:
        return bool(self.rfile.has_data()) or HEAD_END in self.rfile.guard.prefix

    def communicate(self) -> bool:
        """Answer requests while the next one arrives soon (see ``next_head_soon``);
        True when the connection stays open for the server to watch."""
        while True:
            keep = bool(super().communicate())
            if not keep or not self.next_head_soon():
                return keep

    def next_head_soon(self) -> bool:
        """Whether the next request head is here, or arrives within ``KEEP_SERVING``
        seconds, so this worker answers it without handing the connection back.

        Only on plain sockets, while the server is up and no connection waits for a
        worker; the head is looked at without being read (MSG_PEEK)."""
        server = self.server
        if not server.ready or server.requests.qsize:
            return False
        if self.rfile.has_data() or self.rfile.guard.prefix:
            return False  # bytes already read: the usual way handles them
        sock = self.socket
        if not isinstance(sock, socket.socket) or isinstance(sock, ssl.SSLSocket):
            return False
        try:
            sock.settimeout(server.keep_serving)
            head = sock.recv(PEEK_BYTES, socket.MSG_PEEK)
        except OSError:  # nothing in time (or a broken connection): the usual way
            return False
        finally:
            with contextlib.suppress(OSError):
                sock.settimeout(server.body_timeout)
        if HEAD_END not in head:
            return False
        self.head_started = time.monotonic()
        return True

    def close(self) -> None:
        """Close now, or (after an answer to an unread body) half-close and linger."""
        if self.drain_on_close:
            self.drain_on_close = False
            if self.server.linger(self):
                return
        self.close_now()

    def close_now(self) -> None:
        try:
            super().close()
        finally:
            self.server.release_slot(self)


class DriveHTTPServer(wsgi.Server):  # type: ignore[misc]
    """cheroot WSGI server with strict parsing, head/body timeouts and a per-address cap."""

    ConnectionClass = GuardedConnection

    def __init__(
        self,
        bind_addr: tuple[str, int],
        app: Any,
        *,
        threads: int,
        header_timeout: float,
        body_timeout: float,
        max_per_ip: int,
        allowed_hosts: frozenset[str] = frozenset(),
        listen_backlog: int = LISTEN_BACKLOG,
        listener: socket.socket | None = None,
        sendfile: bool = False,
    ) -> None:
        super().__init__(bind_addr, app, numthreads=threads, server_name="davdrive",
                         request_queue_size=listen_backlog)
        self.gateway = DriveGateway
        self.header_timeout = header_timeout
        self.body_timeout = body_timeout
        self.max_per_ip = max_per_ip
        self.allowed_hosts = allowed_hosts
        self._slots: dict[str, int] = {}
        self._slots_lock = threading.Lock()
        self._waiter: HeadWaiter | None = None
        self.listener = listener
        self.sendfile = sendfile  # file answers with sendfile() on plain HTTP
        self.keep_serving = KEEP_SERVING

    def bind(self, family: int, type: int, proto: int = 0) -> socket.socket:  # noqa: A002
        """cheroot's own listening socket, or the one given (shared with other processes)."""
        if self.listener is None:
            return super().bind(family, type, proto)  # type: ignore[no-any-return]
        self.socket = self.listener
        self.bind_addr = self.listener.getsockname()[:2]
        return self.listener

    def prepare(self) -> None:
        super().prepare()
        if self.listener is not None:
            # Several processes wait on this socket: one that loses the race for a
            # connection must not block in accept() (cheroot's 1 s timeout would
            # stall its kept-alive connections meanwhile).
            self.socket.settimeout(0.0)
        self._waiter = HeadWaiter(self)
        self._waiter.start()

    def stop(self) -> None:
        super().stop()
        if self._waiter is not None:
            self._waiter.stop()
            self._waiter = None

    def error_log(self, msg: str = "", level: int = 20, traceback: bool = False) -> None:
        """cheroot's own messages go to the log (not stderr); a traceback only for errors."""
        _log.log(level, "%s", msg, exc_info=traceback and level >= logging.ERROR)

    # --- per-address slots -------------------------------------------------------

    def _take_slot(self, conn: GuardedConnection) -> bool:
        address = str(conn.remote_addr or "")
        with self._slots_lock:
            count = self._slots.get(address, 0)
            if self.max_per_ip and count >= self.max_per_ip:
                return False
            self._slots[address] = count + 1
        conn.slot = address
        return True

    def release_slot(self, conn: GuardedConnection) -> None:
        address, conn.slot = conn.slot, None
        if address is None:
            return
        with self._slots_lock:
            left = self._slots.get(address, 1) - 1
            if left > 0:
                self._slots[address] = left
            else:
                self._slots.pop(address, None)

    def linger(self, conn: GuardedConnection) -> bool:
        """Half-close ``conn`` and let the head waiter close it; False if it cannot."""
        if self._waiter is None:
            return False
        try:
            conn.wfile.flush()
            conn.socket.shutdown(socket.SHUT_WR)
        except (OSError, ValueError):
            return False
        self._waiter.linger(conn)
        return True

    def connections_from(self, address: str) -> int:
        with self._slots_lock:
            return self._slots.get(address, 0)

    # --- dispatch ----------------------------------------------------------------

    def process_conn(self, conn: GuardedConnection) -> None:
        """Called for a new connection and for a kept-alive one with data to read."""
        if conn.slot is None and not self._take_slot(conn):
            _log.info("connection from %s refused: more than %d open", conn.remote_addr,
                      self.max_per_ip)
            send_and_close(conn, "503 Service Unavailable",
                           "Too many connections from your address; retry shortly.",
                           "Retry-After: 1\r\n")
            return
        if conn.head_started is None:
            conn.head_started = time.monotonic()
        if conn.head_received() or self._waiter is None:
            self.dispatch(conn)
        else:
            self._waiter.add(conn)

    def dispatch(self, conn: GuardedConnection) -> None:
        # The head waiter reads without blocking; the worker needs blocking sends
        # (a non-blocking send that would wait loses the rest of the answer).
        try:
            conn.socket.settimeout(self.body_timeout)
        except OSError:
            conn.close_now()
            return
        super().process_conn(conn)
