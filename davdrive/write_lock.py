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

import zlib

from sqlalchemy import Connection, text
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
            conn.exec_driver_sql("BEGIN IMMEDIATE")
    elif dialect == "postgresql":
        key = zlib.crc32(purpose.encode("utf-8")) & 0x7FFFFFFF
        conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": key})
