"""Content-addressed blob store on a local folder.

A blob lives at ``<root>/<aa>/<bb>/<sha256>``. Writing goes to a temp file in
``<root>/tmp``; ``BlobWriter.finish`` fsyncs it and renames it into place, and
only then may the caller commit the database row that refers to it. An
aborted writer removes its temp file, so nothing half-written is ever
addressable. While a writer fills its temp file it hands every ``WRITEBACK``
bytes written to the kernel's writeback (``posix_fadvise(DONTNEED)`` on the
range just written: its pages are dirty, so they are queued for the disk and
stay cached) and drops the range handed one step before, written by then, from
the cache; once the file is durable its last pages go too. So the fsync in
``finish`` waits for the last few MiB only, and a large upload recycles a few
MiB of page cache instead of holding all of it: it pushes out nothing that is
read, and on a virtual machine whose memory the host backs lazily it writes
into pages already backed instead of new ones (four to twenty times faster
measured). ``BlobWriter.receive`` reads a body and stores it on
two threads (``davdrive.blob_receive``).

Storage never leaks: every failure (a full disk, a client gone, a refused
commit, an error while closing) removes the temp file; ``remove_stale_temp``
clears what a killed process left; ``settle`` deletes a blob file that a
failed commit left unreferenced (``BlobStore`` keeps a per-digest count of
writers between ``finish`` and their commit, so a blob shared with a
concurrent upload of the same content is never deleted under it). A full
disk (ENOSPC) raises ``DiskFull``.

A finished writer keeps its temp file (a second link to the same bytes) until
it is settled: the garbage collection (``davdrive.blob_gc``) may remove a blob
that nothing refers to yet, between an upload's ``finish`` and its commit, in
this process or another. So the commit, holding the database's write lock that
the collection also takes, first calls ``ensure_placed``, which links the bytes
back at their address if they were removed: a committed row never points at a
missing blob. The file-system steps (durable folders and entries, links, a full
disk) are in ``davdrive.blob_files``.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import suppress
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from davdrive import blob_files, blob_receive
from davdrive.blob_files import disk_full_as_error
from davdrive.errors import ChangedMeanwhile, TooLarge
from davdrive.hashing import ContentHashes

READ_BLOCK = 1024 * 1024
WRITEBACK = 8 << 20  # bytes written between two hand-overs to the kernel's writeback
_FADVISE = getattr(os, "posix_fadvise", None)


@dataclass(frozen=True)
class BlobInfo:
    """A content's address and size; sha1/md5 only when the upload was asked for them
    (None otherwise: ``davdrive.checksums`` computes them when first shown)."""

    sha256: str
    sha1: str | None
    md5: str | None
    size: int


def _info(digests: dict[str, str], size: int) -> BlobInfo:
    return BlobInfo(digests["sha256"], digests.get("sha1"), digests.get("md5"), size)


class BlobWriter:
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

    def also_compute(self, name: str) -> None:
        """Also compute digest ``name`` (``sha1`` or ``md5``; ``sha256`` always is);
        only before the first byte."""
        if name != "sha256":
            self._hashes.add(name)

    def write(self, data: bytes) -> int:
        self._count(len(data))
        try:
            self._put_block(data)
        except BaseException:
            self.abort()
            raise
        return len(data)

    def receive(self, read_into: blob_receive.ReadInto, length: int) -> int:
        """Read up to ``length`` bytes with ``read_into`` (fills a buffer, fewer bytes
        only at the end of the source) and write them, reading the next block while
        the previous one is written and hashed (``davdrive.blob_receive``); the bytes
        read. On an error the caller aborts the writer, as after ``write``."""
        return blob_receive.receive(read_into, length, self._count, self._put_block)

    def _count(self, n: int) -> None:
        assert self._file is not None, "writer already finished"
        self.size += n
        if self._max is not None and self.size > self._max:
            raise TooLarge(f"The upload is larger than the limit of {self._max} bytes.")

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

    def hexdigests(self) -> dict[str, str]:
        """Hex digests of the bytes written so far: ``sha256`` and any ``also_compute``d."""
        return self._hashes.hexdigests()

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
                info = _info(digests, self.size)
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
        return _info(digests, self.size), data

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


class BlobStore:
    """Local content-addressed store."""

    def __init__(
        self, root: Path, *, collect_failed: bool = True, read_only: bool = False
    ) -> None:
        """``collect_failed``: delete the blob of a failed commit when nothing in this
        process still needs it. Only one process may do so: the pending counts are
        per process, so with several server processes an identical upload in
        another one could lose its blob between its placement and its commit.
        Those leave such blobs to ``davdrive check --repair`` instead.
        ``read_only``: only for reading (a snapshot's blobs): nothing is created."""
        self.root = Path(root)
        self.tmp_dir = self.root / "tmp"
        if not read_only:
            self.tmp_dir.mkdir(parents=True, exist_ok=True)
        self.collect_failed = collect_failed
        self._lock = threading.Lock()
        self._pending: dict[str, int] = {}  # digest -> writers finished, not yet settled

    def place(self, tmp: Path, sha256: str) -> bool:
        """Give ``tmp``'s bytes the address of ``sha256`` (unless the blob is there
        already) and count one pending writer. ``tmp`` stays, a second link to the
        same bytes, until the writer is settled: True then; False when the file system
        has no hard links and ``tmp`` was renamed to the address instead."""
        target = self.path(sha256)
        with self._lock:
            self._pending[sha256] = self._pending.get(sha256, 0) + 1
            try:
                if target.exists():
                    return True
                blob_files.make_dirs_durable(target.parent)
                kept = blob_files.link_or_move(tmp, target)
            except BaseException:
                self._release(sha256)
                raise
        blob_files.fsync_dir(target.parent)
        return kept

    def relink(self, tmp: Path, sha256: str) -> bool:
        """Link the kept temp file ``tmp`` back at the address of ``sha256`` (made
        durable); False when ``tmp`` is gone."""
        target = self.path(sha256)
        with self._lock:
            blob_files.make_dirs_durable(target.parent)
            if not blob_files.link_back(tmp, target):
                return False
        blob_files.fsync_dir(target.parent)
        return True

    def settle(self, writer: BlobWriter, failed: bool, referenced: Callable[[str], bool]) -> None:
        """End ``writer``'s pending count and remove its kept temp file. After a failed
        commit, delete the blob file when no other writer is pending on it and
        ``referenced(sha256)`` (a blob row exists, read after the rollback) is False.
        Idempotent."""
        sha256, writer.sha256 = writer.sha256, None
        writer.release_temp()
        if sha256 is None:
            return
        with self._lock:
            left = self._release(sha256)
            if not (failed and left == 0 and self.collect_failed):
                return
            try:
                keep = referenced(sha256)
            except Exception:  # cannot tell: keep it (``davdrive check --repair`` collects it)
                keep = True
            if not keep:
                self.delete(sha256)

    def _release(self, sha256: str) -> int:
        left = self._pending.get(sha256, 1) - 1
        if left > 0:
            self._pending[sha256] = left
        else:
            self._pending.pop(sha256, None)
        return left

    def temp_files(self) -> list[Path]:
        if not self.tmp_dir.is_dir():  # a read-only store without one
            return []
        return [p for p in self.tmp_dir.iterdir() if p.is_file()]

    def remove_stale_temp(self, older_than: float) -> list[Path]:
        """Remove temp files last written before ``older_than`` (epoch seconds): what a
        killed process left. Returns the removed paths."""
        removed = []
        for path in self.temp_files():
            with suppress(FileNotFoundError):
                if path.stat().st_mtime < older_than:
                    path.unlink()
                    removed.append(path)
        return removed

    def digests(self) -> Iterator[str]:
        """Every stored blob's digest (files at their address), sorted by folder."""
        if not self.root.is_dir():
            return
        for first in sorted(self.root.iterdir()):
            if len(first.name) != 2 or not first.is_dir():
                continue
            for second in sorted(first.iterdir()):
                for path in sorted(second.iterdir()):
                    if path.name.startswith(first.name + second.name) and len(path.name) == 64:
                        yield path.name

    def age_seconds(self, sha256: str) -> float:
        return time.time() - self.path(sha256).stat().st_mtime

    def path(self, sha256: str) -> Path:
        if len(sha256) != 64 or not all(c in "0123456789abcdef" for c in sha256):
            raise ValueError("not a sha256 hex digest")
        return self.root / sha256[:2] / sha256[2:4] / sha256

    def writer(self, max_bytes: int | None = None) -> BlobWriter:
        return BlobWriter(self, max_bytes)

    def put_bytes(self, data: bytes) -> BlobInfo:
        """Store ``data`` at once (tools and tests). Nothing protects the blob from a
        garbage collection until a row refers to it: a use case that commits a row
        uses a writer, ``ensure_placed`` and ``settle`` instead."""
        writer = self.writer()
        try:
            writer.write(data)
            info = writer.finish()
        except BaseException:
            writer.abort()
            raise
        self.settle(writer, False, lambda _: True)
        return info

    def open(self, sha256: str) -> BinaryIO:
        return open(self.path(sha256), "rb")  # noqa: SIM115 - caller closes

    def exists(self, sha256: str) -> bool:
        return self.path(sha256).is_file()

    def delete(self, sha256: str) -> None:
        self.path(sha256).unlink(missing_ok=True)

    def digest_of_file(self, sha256: str) -> str | None:
        """The sha256 of the stored bytes, or None when the file is missing."""
        digest = hashlib.sha256()
        try:
            with self.open(sha256) as f:
                while block := f.read(READ_BLOCK):
                    digest.update(block)
        except FileNotFoundError:
            return None
        return digest.hexdigest()

    def verify(self, sha256: str) -> bool:
        """True when the stored bytes still hash to their address."""
        return self.digest_of_file(sha256) == sha256


TEMP_PREFIX = "up-"
