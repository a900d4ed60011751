"""A small tmpfs mounted by a test (as root) to fill a disk for real.

Under DAVDRIVE_STRICT a test that cannot mount one fails; elsewhere it is skipped.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tests.conftest import unavailable


@contextmanager
def small_filesystem(where: Path, size: str = "24m") -> Iterator[Path]:
    """Mount a tmpfs of ``size`` at ``where`` for the block; unmounted after."""
    where.mkdir(parents=True, exist_ok=True)
    mount = shutil.which("mount")
    problem = ""
    if os.geteuid() != 0:
        problem = "mounting a tmpfs needs root"
    elif mount is None:
        problem = "no mount command"
    else:
        done = subprocess.run(
            [mount, "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(where)],
            capture_output=True, text=True, timeout=30, check=False,
        )
        problem = done.stderr.strip() if done.returncode else ""
    if problem:
        unavailable(f"cannot mount a tmpfs ({problem})")
    try:
        yield where
    finally:
        subprocess.run(["umount", "-l", str(where)], capture_output=True, timeout=30,
                       check=False)


def fill(folder: Path, name: str = "filler") -> Path:
    """Write zeros to ``folder/name`` until the disk is full; the file stays."""
    path = folder / name
    block = b"\0" * 65536
    with path.open("wb", buffering=0) as f:
        try:
            while True:
                f.write(block)
        except OSError:
            pass
        try:  # the last partial block
            while True:
                f.write(b"\0" * 512)
        except OSError:
            pass
    return path
