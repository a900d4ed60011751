"""The local store's writer: an upload streamed to a temp file of ``<root>/tmp``.

See ``davdrive.blobs`` for the whole life of a blob (temp file, hashes, the
place it gets by a hard link, the pending count until it is settled) and for
how the temp file leaves the page cache while it is written (``WRITEBACK``).
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from contextlib import suppress
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO

from davdrive.blob_backend import BlobInfo, info_of
from davdrive.blob_files import disk_full_as_error
from davdrive.blob_intake import Intake
from davdrive.errors import ChangedMeanwhile
from davdrive.hashing import ContentHashes

if TYPE_CHECKING:
    from davdrive.blobs import BlobStore

WRITEBACK = 8 << 20  # bytes written between two hand-overs to the kernel's writeback
TEMP_PREFIX = "up-"
_FADVISE = getattr(os, "posix_fadvise", None)


class BlobWriter(Intake):
    """Streams bytes to a temp file while hashing them (sha256, plus sha1/md5 when
    ``also_compute`` asks before the first byte; see ``davdrive.hashing``)."""

    def __init__(self, store: BlobStore, max_bytes: int | None) -> None:
        self._store = store
        self._max = max_bytes
        with disk_full_as_error():
            fd, name = tempfile.mkstemp(dir=store.tmp_dir, prefix=TEMP_PREFIX)
        self._file: BinaryIO | None = os.fdopen(fd, "wb")
        self._tmp = Path(name)
        self._hashes = ContentHashes()
        self.size = 0  # bytes counted (and checked against the limit)
        self._written = 0  # bytes written to the temp file
        self._handed = 0  # bytes handed to the kernel's writeback
        self._dropped = 0  # bytes before this are out of the page cache (mostly)
        self.sha256: str | None = None  # set by finish: the blob is addressable
        self._kept = False  # finish linked the temp file to the blob: it holds the bytes too

    def _accepting(self) -> bool:
        return self._file is not None

    def _put_block(self, data: bytes | memoryview) -> None:
        """Write ``data`` to the temp file and hash it; every ``WRITEBACK`` bytes, start
        the disk writes of the range just written and drop the range before it from
        the cache (see the module)."""
        file = self._file
        assert file is not None, "writer already finished"
        with disk_full_as_error():
            file.write(data)
            self._written += len(data)
            if _FADVISE is not None and self._written - self._handed >= WRITEBACK:
                file.flush()
                # [_dropped, _handed): handed over one step ago, written by now (clean
                # pages go; any still being written stay until _leave_cache);
                # [_handed, _written): dirty, so only queued for the disk.
                with suppress(OSError):  # only a hint: the fsync in finish() decides
                    _FADVISE(file.fileno(), self._dropped, self._written - self._dropped,
                             os.POSIX_FADV_DONTNEED)
                self._dropped, self._handed = self._handed, self._written
        self._hashes.update(data)

    def _leave_cache(self) -> None:
        """Once a large file is durable, drop its (now clean) pages from the cache."""
        if _FADVISE is not None and self._handed and self._file is not None:
            with suppress(OSError):
                _FADVISE(self._file.fileno(), 0, 0, os.POSIX_FADV_DONTNEED)

    def finish(self) -> BlobInfo:
        """Make the content durable and addressable; return its hashes.

        The writer then counts as pending for its digest until ``BlobStore.settle``.
        On any error the temp file is removed (``DiskFull`` for a full disk).
        """
        assert self._file is not None, "writer already finished"
        try:
            with disk_full_as_error():
                self._file.flush()
                os.fsync(self._file.fileno())
                self._leave_cache()
                self._file.close()
                self._file = None
                digests = self._hashes.hexdigests()
                self._hashes.close()
                info = info_of(digests, self.size)
                self._kept = self._store.place(self._tmp, info.sha256)
        except BaseException:
            self.abort()
            raise
        self.sha256 = info.sha256
        return info

    def ensure_placed(self) -> None:
        """Make sure the finished blob is at its address, linking it back from the kept
        temp file when a garbage collection removed it since ``finish``.

        Call it holding the database's write lock (which ``davdrive.blob_gc`` takes to
        remove a blob), in the transaction that commits a row referring to the blob:
        nothing can remove it between this check and that commit. Raises
        ``ChangedMeanwhile`` (retry) in the one case it cannot put it back: the temp
        file is gone too (a file system without hard links, or a clean-up of temp
        files older than the upload).
        """
        sha256 = self.sha256
        assert sha256 is not None, "writer not finished"
        if self._store.exists(sha256):
            return
        if not self._kept or not self._store.relink(self._tmp, sha256):
            raise ChangedMeanwhile(
                "The stored content was removed by a clean-up at the same time; nothing was "
                "changed. Please retry."
            )

    def settle(self, failed: bool, referenced: Callable[[str], bool]) -> None:
        """End the pending count (``BlobStore.settle``)."""
        self._store.settle(self, failed, referenced)

    def release_temp(self) -> None:
        """Remove the temp file a finished writer kept (``settle`` calls it)."""
        if self._kept:
            self._kept = False
            self._tmp.unlink(missing_ok=True)

    def take_small(self, limit: int) -> tuple[BlobInfo, bytes] | None:
        """For content of at most ``limit`` bytes: its hashes and bytes, the temp file
        removed unsynced (the caller makes the bytes durable in its own commit).
        None, and the writer untouched, for anything larger."""
        assert self._file is not None, "writer already finished"
        if self.size > limit:
            return None
        try:
            with disk_full_as_error():
                self._file.flush()
                data = self._tmp.read_bytes()
        finally:
            self.abort()
        if len(data) != self.size:
            raise OSError(f"temp file holds {len(data)} of {self.size} bytes written")
        digests = self.hexdigests()
        return info_of(digests, self.size), data

    def abort(self) -> None:
        """Drop everything written so far. Safe to call more than once; the temp file is
        removed even when closing it fails (a full disk fails the final flush)."""
        try:
            self._hashes.close()
            if self._file is not None:
                file, self._file = self._file, None
                with suppress(OSError):
                    file.close()
        finally:
            self._tmp.unlink(missing_ok=True)
