"""One server per data folder: an exclusive ``flock`` on ``serve.lock``.

``serving(data_dir)`` holds the lock for the server's lifetime; a second
``serve`` on the same folder is refused with ``DataFolderInUse`` naming the
process that holds it. The kernel drops the lock when the holding process
ends, however it ends (SIGKILL included): no stale lock to clean up. Other
commands (user, folder, check...) do not take it and keep working while a
server runs: SQLite serialises their writes.
"""

from __future__ import annotations

import fcntl
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from davdrive.errors import DriveError

LOCK_FILE = "serve.lock"


class DataFolderInUse(DriveError):
    """Another server already serves this data folder."""


@contextmanager
def serving(data_dir: Path) -> Iterator[None]:
    """Hold the data folder's server lock until the block ends; raise
    ``DataFolderInUse`` at once when another process holds it."""
    path = data_dir / LOCK_FILE
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 32, 0).decode("ascii", "replace").strip() or "unknown"
            raise DataFolderInUse(
                f"the data folder {data_dir} is already served by another davdrive "
                f"process (pid {holder}); stop it first or serve another data folder. "
                "Two servers on one data folder are not supported."
            ) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode("ascii"), 0)
        yield
    finally:
        os.close(fd)  # closing the descriptor releases the lock
