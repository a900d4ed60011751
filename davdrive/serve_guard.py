"""Servers and storage moves exclude each other on a PostgreSQL database.

On SQLite the data folder's ``serve.lock`` does it (``davdrive.folder_lock``).
On PostgreSQL the servers of one drive run on several hosts, each with its own
data folder: the database is what they share, so the exclusion is a
session-level advisory lock on it (key ``SERVE_KEY``, not the write lock's):

- ``serving(url)``: every ``serve`` process holds it SHARED
  (``pg_try_advisory_lock_shared``) on a connection of its own, kept for the
  process's lifetime; any number of servers hold it together. While a storage
  move holds it, ``serve`` refuses at once with ``StorageMoveRunning``.
- ``moving(url)``: ``davdrive migrate-storage`` holds it EXCLUSIVE
  (``pg_try_advisory_lock``) for the whole move, on the source's database and
  on the target's; while any server holds it, the move refuses at once with
  ``DatabaseServed``, naming the servers (their connections' application names
  say ``davdrive serve pid N on HOST``).

PostgreSQL drops a session's advisory locks when its connection ends, however
the process ends: no stale lock to clean up. Both do nothing on SQLite.
"""

from __future__ import annotations

import os
import socket
import zlib
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import Connection, create_engine, make_url, text
from sqlalchemy.pool import NullPool

from davdrive.errors import DriveError

SERVE_KEY = zlib.crc32(b"davdrive serve") & 0x7FFFFFFF
SERVE, MOVE = "serve", "migrate-storage"

# The connections holding the key, with the name each gave itself (pg_locks: an advisory
# lock on a bigint key has classid = its high 32 bits, objid = its low ones, objsubid 1).
_HOLDERS = text(
    "SELECT a.application_name FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid "
    "WHERE l.locktype = 'advisory' AND l.granted AND l.classid = 0 AND l.objid = :key "
    "AND l.objsubid = 1 AND l.database = (SELECT oid FROM pg_database "
    "WHERE datname = current_database()) AND a.pid != pg_backend_pid() "
    "ORDER BY a.application_name"
)


class StorageMoveRunning(DriveError):
    """A storage move (davdrive migrate-storage) runs on this drive's storage."""


class DatabaseServed(DriveError):
    """Servers run on this database: a storage move must see no writes."""


def on_postgresql(url: str) -> bool:
    return bool(url) and make_url(url).get_backend_name() == "postgresql"


@contextmanager
def serving(url: str) -> Iterator[None]:
    """``serve``: hold the key shared on PostgreSQL until the block ends (see module)."""
    if not on_postgresql(url):
        yield
        return
    with _holding(url, SERVE) as conn:
        if not conn.execute(text("SELECT pg_try_advisory_lock_shared(:key)"),
                            {"key": SERVE_KEY}).scalar():
            holders = _holders(conn)
            raise StorageMoveRunning(
                "a storage move (davdrive migrate-storage) is running on the database "
                f"{_safe(url)} ({', '.join(holders) or 'another process'}); start the "
                "server when it has ended, with the configuration it names"
            )
        yield


@contextmanager
def moving(url: str, doing: str = "moving its storage") -> Iterator[None]:
    """``migrate-storage`` (and ``restore``, ``doing`` it): hold the key exclusive on
    PostgreSQL until the block ends."""
    if not on_postgresql(url):
        yield
        return
    with _holding(url, MOVE) as conn:
        if not conn.execute(text("SELECT pg_try_advisory_lock(:key)"),
                            {"key": SERVE_KEY}).scalar():
            holders = _holders(conn)
            if any(MOVE in name for name in holders):
                raise StorageMoveRunning(
                    f"another storage move ({', '.join(holders)}) is running on the database "
                    f"{_safe(url)}; nothing was done"
                )
            raise DatabaseServed(
                f"the database {_safe(url)} is in use by {len(holders) or 'some'} davdrive "
                f"server(s) ({', '.join(holders) or 'names unknown'}): stop every server of "
                f"the drive before {doing} (it must see no writes); nothing was done"
            )
        yield


@contextmanager
def _holding(url: str, purpose: str) -> Iterator[Connection]:
    """A connection of its own (no pool), named after ``purpose``, this process and host."""
    name = f"davdrive {purpose} pid {os.getpid()} on {socket.gethostname()}"[:63]
    engine = create_engine(url, poolclass=NullPool,
                           connect_args={"application_name": name,
                                         "options": "-c timezone=UTC"})
    try:
        with engine.connect() as conn:
            yield conn.execution_options(isolation_level="AUTOCOMMIT")
    finally:
        engine.dispose()


def _holders(conn: Connection) -> list[str]:
    return [name or "unnamed" for name in conn.execute(_HOLDERS, {"key": SERVE_KEY}).scalars()]


def _safe(url: str) -> str:
    """``url`` without its password."""
    return make_url(url).render_as_string(hide_password=True)
