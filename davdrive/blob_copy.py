"""Copying blobs from one store to another, each re-hashed on the way.

``copy_blob(source, target, sha256, where)`` streams one blob through the
target store's writer, which hashes what it receives: content that does not
hash to its address is dropped before it becomes visible, and ``BlobDamaged``
names the blob and ``where`` (the first row referring to it). A blob missing
from the source raises ``BlobDamaged`` too.

``copy_blobs`` copies a list of them with progress, skipping each blob the
target already holds with the size the database gives (``sizes``): a copy cut
short and run again does not copy those again (a later verification re-hashes
every one of them).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass

from davdrive.blob_backend import READ_BLOCK, BlobBackend
from davdrive.errors import BadRequest

PROGRESS_EVERY = 100  # blobs; and at least every PROGRESS_SECONDS
PROGRESS_SECONDS = 2.0


class BlobDamaged(BadRequest):
    """A blob of the source is missing or does not hash to its address."""


@dataclass
class CopiedBlobs:
    """What ``copy_blobs`` did: blobs ``copied``, ``skipped`` (already there), of ``total``."""

    total: int
    copied: int = 0
    skipped: int = 0

    @property
    def done(self) -> int:
        return self.copied + self.skipped


Progress = Callable[[CopiedBlobs], None]


def copy_blob(source: BlobBackend, target: BlobBackend, sha256: str, where: str) -> None:
    """Copy blob ``sha256`` through ``target``'s writer (see the module)."""
    writer = target.writer()
    try:
        with source.open(sha256) as stream:
            while block := stream.read(READ_BLOCK):
                writer.write(block)
        got = writer.hexdigests()["sha256"]
        if got != sha256:
            raise BlobDamaged(
                f"blob {sha256} ({where}) of the source now hashes to {got}: its content "
                "is damaged; nothing of it was copied. Run `davdrive check` on the source "
                "and restore that file from a backup"
            )
        writer.finish()
    except FileNotFoundError:
        writer.abort()
        raise BlobDamaged(
            f"blob {sha256} ({where}) is missing from the source's store; nothing of it was "
            "copied. Run `davdrive check` on the source"
        ) from None
    except BaseException:
        writer.abort()
        raise
    writer.settle(failed=False, referenced=lambda _: True)


def copy_blobs(
    source: BlobBackend, target: BlobBackend, needed: Iterable[tuple[str, str]],
    sizes: Mapping[str, int], *, progress: Progress | None = None,
) -> CopiedBlobs:
    """Copy every (sha256, where) of ``needed`` the target lacks (see the module)."""
    wanted = list(needed)
    result = CopiedBlobs(len(wanted))
    shown = time.monotonic()
    for sha256, where in wanted:
        if _already_there(target, sha256, sizes.get(sha256)):
            result.skipped += 1
        else:
            copy_blob(source, target, sha256, where)
            result.copied += 1
        now = time.monotonic()
        if progress is not None and (result.done % PROGRESS_EVERY == 0
                                     or now - shown >= PROGRESS_SECONDS):
            progress(result)
            shown = now
    if progress is not None:
        progress(result)
    return result


def _already_there(target: BlobBackend, sha256: str, size: int | None) -> bool:
    try:
        return size is not None and target.size(sha256) == size
    except (FileNotFoundError, ValueError):
        return False
