"""The database's write lock, taken before reading what a write depends on.

``take_write_lock(session)`` makes the session's transaction the only writer
of the database until it ends, so that a read-then-insert (the last hash of
the event chain, the locks that conflict with a new one) cannot be overtaken
by another thread or process:

- SQLite: ``BEGIN IMMEDIATE`` (pysqlite starts its own transactions only at
  the first INSERT/UPDATE/DELETE; reads before that run in autocommit). A
  connection that has already written holds the write lock: nothing to do.
- PostgreSQL: a transaction-scoped advisory lock on ``purpose`` (released at
  commit or rollback).

Read-only units of work never call it: readers never wait for writers.
"""

from __future__ import annotations

import time
import zlib
from typing import Any

from sqlalchemy import Connection, text
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session


def take_write_lock(session: Session, purpose: str = "davdrive") -> None:
    """Hold the write lock in ``session``'s transaction (until it commits or rolls back)."""
    take_write_lock_on(session.connection(), purpose)


def take_write_lock_on(conn: Connection, purpose: str = "davdrive") -> None:
    """``take_write_lock`` for a Core connection's transaction."""
    dialect = conn.dialect.name
    if dialect == "sqlite":
        dbapi = conn.connection.dbapi_connection
        if dbapi is not None and not dbapi.in_transaction:
            _begin_immediate(conn, dbapi)
    elif dialect == "postgresql":
        key = zlib.crc32(purpose.encode("utf-8")) & 0x7FFFFFFF
        conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": key})


BUSY_WAIT_MS = 30_000  # how long a writer waits for the lock at most (the busy timeout)
_FIRST_PAUSE, _LONGEST_PAUSE = 0.0001, 0.002  # seconds between tries


def _begin_immediate(conn: Connection, dbapi: Any) -> None:
    """``BEGIN IMMEDIATE``, tried again every 0.1 to 2 ms while another connection
    (thread or process) holds the write lock, for at most ``BUSY_WAIT_MS``.

    SQLite's own busy handler sleeps 1, 2, 5, 10, 15... up to 100 ms between
    tries: a writer queued behind a commit of half a millisecond mostly slept,
    and writers in several processes took turns slowly. The connection's busy
    timeout is 0 during the tries and set back afterwards, whatever happens."""
    dbapi.execute("PRAGMA busy_timeout = 0")
    try:
        deadline = time.monotonic() + BUSY_WAIT_MS / 1000
        pause = _FIRST_PAUSE
        while True:
            try:
                conn.exec_driver_sql("BEGIN IMMEDIATE")
                return
            except OperationalError as exc:
                if not _is_busy(exc) or time.monotonic() >= deadline:
                    raise
            time.sleep(pause)
            pause = min(pause * 2, _LONGEST_PAUSE)
    finally:
        dbapi.execute(f"PRAGMA busy_timeout = {BUSY_WAIT_MS}")


def _is_busy(exc: OperationalError) -> bool:
    """The write lock is held elsewhere (SQLITE_BUSY: "database is locked")."""
    return "database is locked" in str(exc.orig)
