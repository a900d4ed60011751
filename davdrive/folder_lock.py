"""One server per data folder: an exclusive ``flock`` on ``serve.lock``.

``serving(data_dir)`` holds the lock for the server's lifetime; a second
``serve`` on the same folder is refused with ``DataFolderInUse`` naming the
process that holds it. ``davdrive migrate-storage`` takes the same lock
(``purpose="migrate-storage"``) on the data folders whose SQLite database it
reads or writes, so that no server writes during a storage move and no server
starts before it ends; each refusal says which of the two holds the folder.
The kernel drops the lock when the holding process ends, however it ends
(SIGKILL included): no stale lock to clean up. Other commands (user, folder,
check...) do not take it and keep working while a server runs: SQLite
serialises their writes.
"""

from __future__ import annotations

import fcntl
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from davdrive.errors import DriveError

LOCK_FILE = "serve.lock"
SERVE = "serve"
MOVE = "migrate-storage"


class DataFolderInUse(DriveError):
    """Another server already serves this data folder."""


@contextmanager
def serving(data_dir: Path, purpose: str = SERVE) -> Iterator[None]:
    """Hold the data folder's server lock until the block ends; raise
    ``DataFolderInUse`` at once when another process holds it."""
    path = data_dir / LOCK_FILE
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 64, 0).decode("ascii", "replace").split()
            raise DataFolderInUse(_refusal(data_dir, purpose, holder)) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()} {purpose}\n".encode("ascii"), 0)
        yield
    finally:
        os.close(fd)  # closing the descriptor releases the lock


def _refusal(data_dir: Path, purpose: str, holder: list[str]) -> str:
    """Why ``purpose`` cannot take the lock ``holder`` (pid, purpose) has."""
    pid = holder[0] if holder else "unknown"
    if holder[1:2] == [MOVE]:
        return (f"a storage move (davdrive migrate-storage, pid {pid}) is running on the data "
                f"folder {data_dir}; try again when it has ended")
    if purpose == MOVE:
        return (f"the data folder {data_dir} is served by a davdrive process (pid {pid}): "
                "stop every server of the drive before moving its storage (a move must "
                "see no writes)")
    return (f"the data folder {data_dir} is already served by another davdrive "
            f"process (pid {pid}); stop it first or serve another data folder. "
            "Two servers on one data folder are not supported.")
