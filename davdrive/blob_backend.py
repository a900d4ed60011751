"""What the drive needs from a blob store: the contract both backends keep.

Two implementations: ``davdrive.blobs.BlobStore`` (files in a local folder, the
default) and ``davdrive.blob_s3.S3Store`` (an S3-compatible bucket, for several
server processes or hosts). ``davdrive.blob_stores.open_blob_store`` picks one
from the settings (``blobs.backend``).

Writing (every backend):

1. ``writer()`` streams bytes somewhere temporary while hashing them; nothing
   is addressable yet, and ``abort`` (or any failure) leaves nothing visible.
2. ``finish()`` makes the content durable, checks that what was stored is what
   was hashed, and gives it its address (sha256). The writer keeps its
   temporary copy and counts as pending until it is settled.
3. The caller commits the row that refers to the blob, calling
   ``ensure_placed()`` first under the database's write lock (a garbage
   collection may have removed the blob since ``finish``; it is put back from
   the temporary copy).
4. ``settle(failed, referenced)`` ends it: the temporary copy goes and, after
   a failed commit, the blob too when nothing needs it.

Reading: ``open`` gives a seekable binary stream (FileNotFoundError when the
blob is missing). ``local`` says whether blobs are files of this machine: then
``path(sha256)`` names the file (sendfile, hard-linked snapshots), and a
failed ``open`` is cheap. Callers that need a path check ``local`` and fall
back to streams otherwise.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Protocol

READ_BLOCK = 1024 * 1024
UNLIMITED_BYTES = 1 << 50  # room reported when the store sets no limit (1 PiB)
HEX = frozenset("0123456789abcdef")


@dataclass(frozen=True)
class BlobInfo:
    """A content's address and size; sha1/md5 only when the upload was asked for them
    (None otherwise: ``davdrive.checksums`` computes them when first shown)."""

    sha256: str
    sha1: str | None
    md5: str | None
    size: int


def info_of(digests: dict[str, str], size: int) -> BlobInfo:
    return BlobInfo(digests["sha256"], digests.get("sha1"), digests.get("md5"), size)


def check_digest(sha256: str) -> str:
    """``sha256`` itself when it is a lowercase hex sha256 digest; else ValueError."""
    if len(sha256) != 64 or not HEX.issuperset(sha256):
        raise ValueError("not a sha256 hex digest")
    return sha256


@dataclass(frozen=True)
class TempItem:
    """Something an upload left in the store's temporary area: its ``name`` (for
    ``remove_temp``) and when it was last written (epoch seconds)."""

    name: str
    modified: float


ReadInto = Callable[[memoryview], int]


class BlobWriting(Protocol):
    """One upload's writer (see the module for its life)."""

    size: int  # bytes counted so far
    sha256: str | None  # set by finish: addressable, pending until settled

    def also_compute(self, name: str) -> None:
        """Also compute ``sha1`` or ``md5``; only before the first byte."""

    def write(self, data: bytes) -> int:
        """Store and hash ``data``; on an error the writer is aborted."""
        ...

    def receive(self, read_into: ReadInto, length: int) -> int:
        """Read up to ``length`` bytes with ``read_into`` and store them; the bytes read
        (on an error the caller aborts)."""
        ...

    def hexdigests(self) -> dict[str, str]:
        """Digests of the bytes so far: ``sha256`` and any asked for."""
        ...

    def finish(self) -> BlobInfo:
        """Make the content durable, verified and addressable (aborted on any error)."""
        ...

    def ensure_placed(self) -> None:
        """Under the write lock, before the commit: put the blob back if a collection
        removed it since ``finish`` (``ChangedMeanwhile`` when it cannot)."""

    def take_small(self, limit: int) -> tuple[BlobInfo, bytes] | None:
        """Content of at most ``limit`` bytes: its hashes and bytes, the writer
        aborted (the caller keeps them in the database). None for anything larger."""
        ...

    def settle(self, failed: bool, referenced: Callable[[str], bool]) -> None:
        """End the pending count and drop the temporary copy; after a failed commit,
        delete the blob when no writer is pending on it and ``referenced`` says no
        row needs it. Idempotent."""

    def abort(self) -> None:
        """Drop everything written; nothing stays visible. Safe to call twice."""


class BlobBackend(Protocol):
    """A content-addressed blob store (see the module)."""

    local: bool  # blobs are files of this machine: ``path`` works, misses are cheap
    lock_dir: Path  # local folder for the backup/collection lock (davdrive.blob_removal)

    def writer(self, max_bytes: int | None = None) -> BlobWriting:
        """A new writer; ``TooLarge`` past ``max_bytes``."""
        ...

    def put_bytes(self, data: bytes) -> BlobInfo:
        """Store ``data`` at once (tools, tests, restore)."""
        ...

    def open(self, sha256: str) -> BinaryIO:
        """The content as a seekable stream; FileNotFoundError when missing."""
        ...

    def exists(self, sha256: str) -> bool: ...

    def size(self, sha256: str) -> int:
        """Stored bytes; FileNotFoundError when missing."""
        ...

    def age_seconds(self, sha256: str) -> float:
        """Seconds since the blob was last placed; FileNotFoundError when missing."""
        ...

    def delete(self, sha256: str) -> None:
        """Remove the blob (nothing when it is missing)."""

    def digests(self) -> Iterator[str]:
        """Every stored blob's digest."""
        ...

    def digest_of_file(self, sha256: str) -> str | None:
        """The sha256 of the stored bytes, or None when missing."""
        ...

    def verify(self, sha256: str) -> bool:
        """True when the stored bytes still hash to their address."""
        ...

    def temp_items(self) -> list[TempItem]:
        """What uploads left in the temporary area (in flight or abandoned)."""
        ...

    def remove_temp(self, name: str) -> None:
        """Remove one temporary item (nothing when it is gone)."""

    def remove_stale_temp(self, older_than: float) -> list[str]:
        """Remove temporary items last written before ``older_than`` (epoch seconds);
        their names."""
        ...

    def free_bytes(self) -> int | None:
        """Room left for new content, or None when the store sets no limit."""
        ...

    def path(self, sha256: str) -> Path:
        """The blob's file; only when ``local`` (else NotImplementedError)."""
        ...

    def close(self) -> None:
        """Release what the store holds open (connections); the runtime's end."""
