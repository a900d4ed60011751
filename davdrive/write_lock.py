"""The database's write lock, taken before reading what a write depends on.

``take_write_lock(session)`` makes the session's transaction the only writer
of the database until it ends, so that a read-then-insert (the last hash of
the event chain, the locks that conflict with a new one) cannot be overtaken
by another thread or process:

- SQLite: ``BEGIN IMMEDIATE`` (pysqlite starts its own transactions only at
  the first INSERT/UPDATE/DELETE; reads before that run in autocommit). A
  connection that has already written holds the write lock: nothing to do.
- PostgreSQL: one transaction-scoped advisory lock for the whole database
  (``pg_advisory_xact_lock``, released at commit or rollback), whatever the
  ``purpose`` (a label for readers of the calling code): as on SQLite, there
  is one writer at a time, and a transaction that holds the lock does not ask
  again (the statements a unit of work runs are the same on both).

``install(engine)`` makes PostgreSQL match SQLite's other half too: a
transaction's first INSERT, UPDATE or DELETE takes the lock first, so a
transaction that writes always holds it, and two writers never wait for each
other's rows (no deadlock between a unit of work that writes before it asks
for the lock and one that asked first).

Read-only units of work never call it: readers never wait for writers.
"""

from __future__ import annotations

import time
import zlib
from typing import Any

from sqlalchemy import Connection, Engine, event
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

# The advisory lock's key: one for the whole database, as SQLite's write lock.
PG_KEY = zlib.crc32(b"davdrive") & 0x7FFFFFFF
PG_LOCK_SQL = f"SELECT pg_advisory_xact_lock({PG_KEY})"
# conn.info key (kept with the pooled DBAPI connection): the transaction (SQLAlchemy's
# RootTransaction) that took the advisory lock last.
_HELD_BY = "davdrive.write_lock"
_WRITES = ("INSERT", "UPDATE", "DELETE")


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
    elif dialect == "postgresql" and not _holds(conn):
        conn.exec_driver_sql(PG_LOCK_SQL)
        conn.info[_HELD_BY] = conn.get_transaction()


def _holds(conn: Connection) -> bool:
    """``conn``'s open transaction has taken the advisory lock (PostgreSQL)."""
    transaction = conn.get_transaction()
    return transaction is not None and conn.info.get(_HELD_BY) is transaction


def install(engine: Engine) -> None:
    """On PostgreSQL, take the write lock before a transaction's first write statement
    (INSERT, UPDATE, DELETE), as SQLite does; nothing on other databases."""
    if engine.dialect.name == "postgresql":
        event.listen(engine, "before_cursor_execute", _lock_before_writing)


def _lock_before_writing(
    conn: Connection, cursor: Any, statement: str, params: Any, context: Any,
    executemany: bool,
) -> None:
    if statement.lstrip()[:6].upper() not in _WRITES or _holds(conn):
        return
    # On its own cursor, seen by the statement events as any statement is.
    lock_cursor = conn.connection.cursor()
    try:
        conn.dispatch.before_cursor_execute(conn, lock_cursor, PG_LOCK_SQL, {}, None, False)
        lock_cursor.execute(PG_LOCK_SQL)
        conn.dispatch.after_cursor_execute(conn, lock_cursor, PG_LOCK_SQL, {}, None, False)
    finally:
        lock_cursor.close()
    conn.info[_HELD_BY] = conn.get_transaction()


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
