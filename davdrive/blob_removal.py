"""Backups and blob removal exclude each other (one lock file in the store's ``lock_dir``).

A backup copies the database, then links the blob files that copy names: a
blob removed in between would be missing from the snapshot. So a backup holds
the lock shared from before its copy until its last link (``keeping_blobs``),
and a collection holds it exclusively from before it removes a file until its
transaction ends (``removal_allowed``): a commit that deletes blob rows is
never half seen by a snapshot. A collection that finds a backup running
removes nothing this time (the next round will); an ``flock`` works across the
server's processes and the command line.

On PostgreSQL the processes may be on several hosts, each with its own data
folder: the same exclusion is also kept in the database, with the advisory
lock ``REMOVAL_KEY`` (not the write lock's): a backup holds it shared on a
connection of its own for the block, a collection takes it exclusively for
its transaction (``pg_try_advisory_xact_lock``: released by the commit or
rollback, whatever happens to the process).
"""

from __future__ import annotations

import fcntl
import os
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import Engine, event, text
from sqlalchemy.orm import Session

LOCK_NAME = "blob-removal.lock"
REMOVAL_KEY = zlib.crc32(b"davdrive blob removal") & 0x7FFFFFFF


def lock_path(lock_dir: Path) -> Path:
    """The lock file in ``lock_dir`` (a blob store's ``lock_dir``: the data folder)."""
    return Path(lock_dir) / LOCK_NAME


@contextmanager
def keeping_blobs(lock_dir: Path, engine: Engine | None = None) -> Iterator[None]:
    """No blob is removed inside the block (waits for a collection to commit first);
    on a PostgreSQL ``engine``, by no process of any host either."""
    fd = os.open(lock_path(lock_dir), os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_SH)
        if engine is None or engine.dialect.name != "postgresql":
            yield
            return
        with engine.connect() as conn:
            conn = conn.execution_options(isolation_level="AUTOCOMMIT")
            conn.execute(text("SELECT pg_advisory_lock_shared(:key)"), {"key": REMOVAL_KEY})
            try:
                yield
            finally:
                conn.execute(text("SELECT pg_advisory_unlock_shared(:key)"),
                             {"key": REMOVAL_KEY})
    finally:
        os.close(fd)


def removal_allowed(session: Session, lock_dir: Path) -> bool:
    """Take the lock exclusively until ``session``'s transaction ends; False (nothing
    taken) while a backup holds it (on PostgreSQL: a backup on any host)."""
    fd = os.open(lock_path(lock_dir), os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        return False
    if session.get_bind().dialect.name == "postgresql" and not session.execute(
        text("SELECT pg_try_advisory_xact_lock(:key)"), {"key": REMOVAL_KEY}
    ).scalar():
        os.close(fd)
        return False
    released = False

    def release(*_: object) -> None:
        nonlocal released
        if not released:  # the first of commit or rollback ends it
            released = True
            os.close(fd)

    event.listen(session, "after_commit", release, once=True)
    event.listen(session, "after_rollback", release, once=True)
    return True
