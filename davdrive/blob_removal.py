"""Backups and blob removal exclude each other (one lock file in the store's ``lock_dir``).

A backup copies the database, then links the blob files that copy names: a
blob removed in between would be missing from the snapshot. So a backup holds
the lock shared from before its copy until its last link (``keeping_blobs``),
and a collection holds it exclusively from before it removes a file until its
transaction ends (``removal_allowed``): a commit that deletes blob rows is
never half seen by a snapshot. A collection that finds a backup running
removes nothing this time (the next round will); an ``flock`` works across the
server's processes and the command line.
"""

from __future__ import annotations

import fcntl
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import event
from sqlalchemy.orm import Session

LOCK_NAME = "blob-removal.lock"


def lock_path(lock_dir: Path) -> Path:
    """The lock file in ``lock_dir`` (a blob store's ``lock_dir``: the data folder)."""
    return Path(lock_dir) / LOCK_NAME


@contextmanager
def keeping_blobs(lock_dir: Path) -> Iterator[None]:
    """No blob is removed inside the block (waits for a collection to commit first)."""
    fd = os.open(lock_path(lock_dir), os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_SH)
        yield
    finally:
        os.close(fd)


def removal_allowed(session: Session, lock_dir: Path) -> bool:
    """Take the lock exclusively until ``session``'s transaction ends; False (nothing
    taken) while a backup holds it."""
    fd = os.open(lock_path(lock_dir), os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
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
