"""Content-addressed blob store on a local folder (one ``davdrive.blob_backend``).

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
disk (ENOSPC) raises ``DiskFull``. The writer is in ``davdrive.blob_writer``.

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
import shutil
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import suppress
from pathlib import Path
from typing import BinaryIO

from davdrive import blob_files
from davdrive.blob_backend import READ_BLOCK, BlobInfo, TempItem, check_digest
from davdrive.blob_writer import TEMP_PREFIX, WRITEBACK, BlobWriter

__all__ = ["READ_BLOCK", "TEMP_PREFIX", "WRITEBACK", "BlobInfo", "BlobStore", "BlobWriter"]


class BlobStore:
    """Local content-addressed store."""

    local = True

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
        self.lock_dir = self.root.parent  # davdrive.blob_removal's lock file is there
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

    def temp_items(self) -> list[TempItem]:
        items = []
        for path in self.temp_files():
            with suppress(FileNotFoundError):
                items.append(TempItem(path.name, path.stat().st_mtime))
        return items

    def remove_temp(self, name: str) -> None:
        if "/" in name or name in ("", ".", ".."):
            raise ValueError("not a temp file name")
        (self.tmp_dir / name).unlink(missing_ok=True)

    def remove_stale_temp(self, older_than: float) -> list[str]:
        """Remove temp files last written before ``older_than`` (epoch seconds): what a
        killed process left. Returns the removed names."""
        removed = []
        for path in self.temp_files():
            with suppress(FileNotFoundError):
                if path.stat().st_mtime < older_than:
                    path.unlink()
                    removed.append(path.name)
        return removed

    def free_bytes(self) -> int:
        """Free space of the file system holding the store."""
        return shutil.disk_usage(self.root).free

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

    def size(self, sha256: str) -> int:
        return self.path(sha256).stat().st_size

    def path(self, sha256: str) -> Path:
        check_digest(sha256)
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
        writer.settle(False, lambda _: True)
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

    def close(self) -> None:
        """Nothing to release: files are opened per read."""

