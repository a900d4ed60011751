"""Read connections kept by each thread between requests (SQLite).

Taking a connection from SQLAlchemy's pool and giving it back cost about 15%
of a small GET's CPU (checkout, the connection object, the reset on return).
``ReadConnections`` keeps the Core connection a thread read with for its next
request instead: a worker thread then reuses one connection for all its
reads, as long as the request needs no ORM session.

Contract:
- ``take()``: the thread's kept connection, or a new one from the pool.
- ``finish(conn)``: the request is done reading. Any transaction on it is
  rolled back (reads never write), then it is kept for this thread; a
  connection that cannot be reset is closed. On databases other than
  SQLite (``keep`` False) it goes back to the pool, as before: a server
  connection may be dropped while kept, and the pool checks it on checkout.
- ``release(conn)``: back to the pool now; ``release_kept()``: the one this
  thread keeps, too (the request's ORM session is about to take one, or the
  request is about to wait on its client: a request holds one pooled
  connection at a time, and none while it waits).
- ``close()``: every kept connection goes back to the pool; nothing is kept
  afterwards (the runtime closes it before disposing of the engine).

A thread holds at most one kept connection, idle, with no transaction open (so
it holds no SQLite snapshot or lock); the pool keeps one per thread and as
many again (``davdrive.db.pool_options``).
"""

from __future__ import annotations

import threading

from sqlalchemy import Connection, Engine


class ReadConnections:
    """Per-thread read connections of ``engine`` (see module doc)."""

    def __init__(self, engine: Engine, keep: bool) -> None:
        self._engine = engine
        self._keep = keep
        self._kept: dict[int, Connection] = {}
        self._lock = threading.Lock()

    def take(self) -> Connection:
        if self._keep:
            with self._lock:
                conn = self._kept.pop(threading.get_ident(), None)
            if conn is not None:
                return conn
        return self._engine.connect()

    def finish(self, conn: Connection) -> None:
        if not self._keep or not _reset(conn):
            conn.close()
            return
        with self._lock:
            if not self._keep:  # closed meanwhile
                displaced: Connection | None = conn
            else:
                displaced = self._kept.get(threading.get_ident())
                self._kept[threading.get_ident()] = conn
        if displaced is not None:
            displaced.close()

    @staticmethod
    def release(conn: Connection) -> None:
        conn.close()

    def release_kept(self) -> None:
        """The connection this thread keeps, if any, back to the pool."""
        if self._kept:
            with self._lock:
                conn = self._kept.pop(threading.get_ident(), None)
            if conn is not None:
                conn.close()

    def kept(self) -> int:
        """How many connections are kept (for tests)."""
        with self._lock:
            return len(self._kept)

    def close(self) -> None:
        with self._lock:
            self._keep = False
            kept, self._kept = list(self._kept.values()), {}
        for conn in kept:
            conn.close()


def _reset(conn: Connection) -> bool:
    """End any transaction on ``conn``; False when it cannot be used again."""
    try:
        if conn.invalidated or conn.closed:
            return False
        if conn.in_transaction():
            conn.rollback()
        dbapi = conn.connection.dbapi_connection
        if dbapi is not None and getattr(dbapi, "in_transaction", False):
            dbapi.rollback()  # a statement run on the driver directly began one
        return True
    except Exception:  # noqa: BLE001 - a connection that fails its reset is not kept
        return False
