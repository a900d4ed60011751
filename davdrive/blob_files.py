"""File-system steps of the blob store (``davdrive.blobs``): folders and entries
made durable, a blob's second link, a full disk reported as ``DiskFull``."""

from __future__ import annotations

import errno
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from davdrive.errors import DiskFull

_FULL = frozenset({errno.ENOSPC, errno.EDQUOT})


@contextmanager
def disk_full_as_error() -> Iterator[None]:
    """Turn an OSError of a full disk (ENOSPC, EDQUOT) into ``DiskFull``."""
    try:
        yield
    except OSError as exc:
        if exc.errno in _FULL:
            raise DiskFull(
                "The server has not enough free disk space; nothing was stored."
            ) from exc
        raise


def make_dirs_durable(path: Path) -> None:
    """Create ``path`` and its missing parents, fsyncing the folder that receives each
    new one, so that after a crash a committed row never points into a lost folder.
    Called under the store's lock: no other upload of this process sees a new folder
    before its entry is durable."""
    missing: list[Path] = []
    current = path
    while not current.exists():
        missing.append(current)
        current = current.parent
    for folder in reversed(missing):
        try:
            folder.mkdir()
        except FileExistsError:
            continue  # another process made it and fsyncs its parent itself
        fsync_dir(folder.parent)


_NO_LINKS = frozenset({errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP, errno.EXDEV, errno.EMLINK})


def link_or_move(tmp: Path, target: Path) -> bool:
    """Link ``tmp`` at ``target`` and keep it (True); where the file system has no hard
    links, rename it there (False). A blob placed meanwhile by another process is fine."""
    try:
        os.link(tmp, target)
        return True
    except FileExistsError:
        return True
    except OSError as exc:
        if exc.errno not in _NO_LINKS:
            raise
    os.replace(tmp, target)
    return False


def link_back(tmp: Path, target: Path) -> bool:
    """Link ``tmp`` at ``target`` again (True, also when something is there already);
    False when ``tmp`` is gone."""
    try:
        os.link(tmp, target)
    except FileExistsError:
        return True
    except FileNotFoundError:
        return False
    return True


def fsync_dir(path: Path) -> None:
    """Make the entries of folder ``path`` durable."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
