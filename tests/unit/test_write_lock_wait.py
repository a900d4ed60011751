"""Waiting for SQLite's write lock: tried again every few hundred microseconds.

Issue 12 (PUT of small files on 8 connections, two server processes): SQLite's
own busy handler sleeps 1, 2, 5, 10... up to 100 ms between tries, so writers
queued behind commits of half a millisecond mostly slept. ``take_write_lock_on``
now tries ``BEGIN IMMEDIATE`` itself with short pauses. Checked here by what it
does, not by timing: it waits for a lock held by another connection and takes
it once released, gives up with the usual error after the wait limit, lets any
other error through at once, and leaves the connection's busy timeout as it was.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from pathlib import Path

import pytest
from sqlalchemy import create_engine
from sqlalchemy.exc import OperationalError

from davdrive import write_lock
from davdrive.db import make_engine


def _wal_engine(tmp_path: Path):  # type: ignore[no-untyped-def]
    """The app's engine on a new database, already in WAL mode (its first connection
    sets it, which needs the lock the tests then hold elsewhere)."""
    engine = make_engine(f"sqlite:///{tmp_path / 'db.sqlite3'}")
    engine.connect().close()
    return engine


def _busy_timeout(conn) -> int:  # type: ignore[no-untyped-def]
    return int(conn.exec_driver_sql("PRAGMA busy_timeout").scalar())


def test_a_held_lock_is_waited_for_and_taken_once_released(tmp_path: Path) -> None:
    engine = _wal_engine(tmp_path)
    holder = sqlite3.connect(tmp_path / "db.sqlite3", isolation_level=None, check_same_thread=False)
    holder.execute("BEGIN IMMEDIATE")
    released = threading.Event()

    def release() -> None:
        time.sleep(0.05)
        holder.execute("COMMIT")
        released.set()

    releaser = threading.Thread(target=release)
    releaser.start()
    try:
        with engine.connect() as conn:
            write_lock.take_write_lock_on(conn)
            assert released.is_set()  # it had to wait for the other connection
            assert conn.connection.dbapi_connection.in_transaction  # type: ignore[union-attr]
            conn.exec_driver_sql("CREATE TABLE t (x)")
            conn.commit()
            assert _busy_timeout(conn) == write_lock.BUSY_WAIT_MS
    finally:
        releaser.join()
        holder.close()
        engine.dispose()


def test_the_wait_ends_with_the_usual_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(write_lock, "BUSY_WAIT_MS", 30)
    engine = _wal_engine(tmp_path)
    holder = sqlite3.connect(tmp_path / "db.sqlite3", isolation_level=None, check_same_thread=False)
    holder.execute("BEGIN IMMEDIATE")
    try:
        with engine.connect() as conn:
            start = time.monotonic()
            with pytest.raises(OperationalError, match="database is locked"):
                write_lock.take_write_lock_on(conn)
            assert time.monotonic() - start >= 0.03
            assert _busy_timeout(conn) == 30  # set back (to the patched limit)
    finally:
        holder.close()
        engine.dispose()


def test_other_errors_are_not_retried(tmp_path: Path) -> None:
    """A read-only database refuses BEGIN IMMEDIATE at once: no wait, the error as is."""
    path = tmp_path / "db.sqlite3"
    sqlite3.connect(path).close()
    engine = create_engine(f"sqlite:///file:{path}?mode=ro&uri=true")
    try:
        with engine.connect() as conn:
            start = time.monotonic()
            with pytest.raises(OperationalError) as raised:
                conn.exec_driver_sql("PRAGMA busy_timeout = 5000")
                write_lock.take_write_lock_on(conn)
                conn.exec_driver_sql("CREATE TABLE t (x)")
            assert "locked" not in str(raised.value)
            assert time.monotonic() - start < 1
    finally:
        engine.dispose()
