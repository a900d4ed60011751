"""``davdrive backup``: a consistent snapshot of a running drive, then a rotation.

Order makes it consistent. The database is copied first, in one read
transaction, so one consistent point, while the servers go on writing: SQLite
with its online backup API in one step (WAL); PostgreSQL by copying every table
from one REPEATABLE READ transaction into a new SQLite file migrated to the
same schema (``davdrive.table_copy``: a logical export), so that a snapshot has
one format whatever the database. Then every blob file the *copied* database
refers to is hard-linked into the snapshot (copied when linking fails, e.g. the
backup folder is on another file system; streamed from the store when its
blobs are not local files: an S3 bucket). A row committed before that point
had its blob file written, fsynced and renamed into place before it committed
(``davdrive.blobs``), and blob files are never changed in place, so each link
holds exactly the content its row names. Upload temp files are never included;
blobs kept in the database (``davdrive.inline_blobs``) come with it.

The snapshot is built under ``.partial-<name>`` and renamed when complete
(``davdrive.snapshots``). One backup at a time per backup folder (a lock file);
what a killed backup left is removed by the next one. Each backup appends a
``backup`` event. After a complete backup the rotation
(``davdrive.rotation``) deletes the snapshots it does not keep; a backup that
could not find a blob file the database names keeps everything (an older
snapshot may still hold it) and says so.
"""

from __future__ import annotations

import datetime as dt
import errno
import fcntl
import os
import shutil
import sqlite3
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

from sqlalchemy import Engine, create_engine, func, select
from sqlalchemy.orm import Session
from sqlalchemy.pool import NullPool

from davdrive import audit, check, db, rotation, snapshots, table_copy
from davdrive.blob_backend import READ_BLOCK, BlobBackend
from davdrive.blob_files import fsync_dir
from davdrive.blob_removal import keeping_blobs
from davdrive.blobs import BlobStore
from davdrive.errors import Conflict
from davdrive.models import BlobInline, utcnow
from davdrive.policy import SYSTEM
from davdrive.runtime import Runtime
from davdrive.settings import DB_FILE

PROGRESS_EVERY = 1000
LOCK_FILE = ".lock"
# Link errors after which the file is copied instead (another file system, too many links,
# a file system without hard links, a kernel that forbids linking the file).
_COPY_INSTEAD = frozenset({errno.EXDEV, errno.EMLINK, errno.EPERM, errno.ENOTSUP,
                           errno.EOPNOTSUPP})

Progress = Callable[[int, int], None]  # (blob files linked, copied) so far


@dataclass
class BackupResult:
    """A snapshot taken: where, how its blobs came in, what the rotation removed."""

    path: Path
    linked: int = 0
    copied: int = 0
    inline: int = 0
    missing: list[str] = field(default_factory=list)  # blob files the live store lacked
    removed: list[Path] = field(default_factory=list)

    @property
    def complete(self) -> bool:
        return not self.missing

    def summary(self) -> str:
        return (f"{self.linked} blob files linked, {self.copied} copied, "
                f"{self.inline} kept in the database")


def run_backup(
    runtime: Runtime, *, now: dt.datetime | None = None, progress: Progress | None = None
) -> BackupResult:
    """Take a snapshot of ``runtime``'s drive into ``backup.dir``, audit it and, when it
    is complete, rotate; see the module docstring."""
    backup_dir = runtime.settings.backup_dir
    with _one_backup_at_a_time(backup_dir):
        try:
            with keeping_blobs(runtime.blobs.lock_dir, runtime.engine):
                result = take_snapshot(runtime.engine, runtime.blobs, backup_dir, now=now,
                                       progress=progress)
        except Exception as exc:
            with suppress(Exception):  # the failure itself is what the caller must see
                _audit(runtime, "failed", str(exc))
            raise
        if result.complete:
            result.removed = rotate(backup_dir)
            _audit(runtime, "ok", f"{result.path.name}: {result.summary()}; "
                                  f"{len(result.removed)} old snapshot(s) removed")
        else:
            _audit(runtime, "incomplete", f"{result.path.name}: {len(result.missing)} blob "
                                          f"file(s) missing from the store, first "
                                          f"{result.missing[0]}")
    return result


def _audit(runtime: Runtime, outcome: str, detail: str) -> None:
    with runtime.sessions() as session:
        audit.record(session, user=SYSTEM.login, action="backup", outcome=outcome,
                     detail=detail)
        session.commit()


@contextmanager
def _one_backup_at_a_time(backup_dir: Path) -> Iterator[None]:
    """Hold the backup folder's lock; remove what an interrupted backup or rotation left."""
    backup_dir.mkdir(parents=True, exist_ok=True)
    fd = os.open(backup_dir / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise Conflict(
                f"another backup into {backup_dir} is running; try again when it ends"
            ) from None
        for leftover in backup_dir.glob(snapshots.PARTIAL + "*"):
            shutil.rmtree(leftover, ignore_errors=True)
        yield
    finally:
        os.close(fd)


def take_snapshot(
    engine: Engine, blobs: BlobBackend, backup_dir: Path, *, now: dt.datetime | None = None,
    progress: Progress | None = None,
) -> BackupResult:
    """Write one snapshot of the database behind ``engine`` and of the blob files of
    ``blobs`` it refers to into ``backup_dir``; the caller holds the backup lock."""
    taken_at = now or utcnow()
    name = snapshots.name_of(taken_at)
    final = backup_dir / name
    if final.exists():
        raise Conflict(f"a snapshot named {name} exists already")
    partial = backup_dir / (snapshots.PARTIAL + name)
    partial.mkdir(parents=True)
    try:
        _copy_live_database(engine, partial / DB_FILE)
        result = BackupResult(final)
        manifest = snapshots.Manifest(taken_at, None)
        copied = snapshots.read_only_engine(partial / DB_FILE)
        try:
            manifest.schema = db.current_revision(copied)
            with Session(copied) as session:
                result.inline = session.scalar(select(func.count()).select_from(BlobInline)) or 0
                needed = [sha256 for sha256, _ in check.file_blobs(session)]
        finally:
            copied.dispose()
        _BlobLinks(blobs, partial / snapshots.BLOBS, result, manifest, progress).add_all(needed)
        manifest.inline, manifest.missing = result.inline, result.missing
        _write_durably(partial / snapshots.MANIFEST, manifest.as_json().encode("utf-8"))
        fsync_dir(partial)
        os.rename(partial, final)
        fsync_dir(backup_dir)
    except BaseException:
        shutil.rmtree(partial, ignore_errors=True)
        raise
    return result


def _copy_live_database(engine: Engine, target: Path) -> None:
    if engine.dialect.name == "postgresql":
        export_database(engine, target)
        return
    raw = engine.raw_connection()
    try:
        source = raw.driver_connection
        assert isinstance(source, sqlite3.Connection), "an SQLite engine"
        snapshots.copy_database(source, target)
    finally:
        raw.close()


def export_database(engine: Engine, target: Path) -> None:
    """Every table of the database behind ``engine``, read in one REPEATABLE READ
    transaction, into the new SQLite file ``target`` at the same (head) schema, left
    as a single file (rollback journal), synced."""
    copy = create_engine(f"sqlite:///{target}", poolclass=NullPool)
    try:
        db.migrate(copy)
        with engine.connect() as source:
            source.execution_options(isolation_level="REPEATABLE READ")
            with source.begin(), copy.begin() as written:
                table_copy.copy_tables(source, written)
        with copy.connect() as conn:
            conn.exec_driver_sql("PRAGMA journal_mode=DELETE")
    finally:
        copy.dispose()


class _BlobLinks:
    """Hard-links (or copies) blob files from the live store into a snapshot's folder;
    a store whose blobs are not local files (S3) is copied from, stream by stream."""

    def __init__(
        self, blobs: BlobBackend, root: Path, result: BackupResult,
        manifest: snapshots.Manifest, progress: Progress | None,
    ) -> None:
        self.source = blobs
        self.target = BlobStore(root)  # the same layout, with an empty tmp folder
        self.result = result
        self.manifest = manifest
        self.progress = progress
        self.can_link = True
        self.folders: set[Path] = set()

    def add_all(self, digests: list[str]) -> None:
        for done, sha256 in enumerate(digests, 1):
            self.add(sha256)
            if self.progress is not None and done % PROGRESS_EVERY == 0:
                self.progress(self.result.linked, self.result.copied)
        for folder in sorted(self.folders, key=lambda p: len(p.parts), reverse=True):
            fsync_dir(folder)
        fsync_dir(self.target.root)

    def add(self, sha256: str) -> None:
        """Bring blob ``sha256`` in; a blob the live store lacks (or a row naming no
        sha256 at all) is counted as missing."""
        try:
            target = self.target.path(sha256)
            if target.parent not in self.folders:
                target.parent.mkdir(parents=True, exist_ok=True)
                self.folders.update({target.parent, target.parent.parent})
            if not self.source.local or not self._link(self.source.path(sha256), target):
                with self.source.open(sha256) as stream:
                    _copy_durably(stream, target)
                self.result.copied += 1
        except (FileNotFoundError, ValueError):
            self.result.missing.append(sha256)
            return
        self.manifest.blobs[sha256] = target.stat().st_size

    def _link(self, source: Path, target: Path) -> bool:
        """Hard-link ``source`` to ``target``; False when it must be copied instead."""
        if not self.can_link:
            return False
        try:
            os.link(source, target)
        except OSError as exc:
            if exc.errno not in _COPY_INSTEAD:
                raise
            if exc.errno in (errno.EXDEV, errno.ENOTSUP, errno.EOPNOTSUPP):
                self.can_link = False  # no file will link: stop trying
            return False
        self.result.linked += 1
        return True


def _copy_durably(source: BinaryIO, target: Path) -> None:
    with open(target, "xb") as dst:
        shutil.copyfileobj(source, dst, READ_BLOCK)
        dst.flush()
        os.fsync(dst.fileno())


def _write_durably(path: Path, data: bytes) -> None:
    with open(path, "xb") as file:
        file.write(data)
        file.flush()
        os.fsync(file.fileno())


def rotate(backup_dir: Path) -> list[Path]:
    """Delete the snapshots ``rotation.keep`` does not keep; the deleted paths. Each is
    renamed to a partial name first, so a deletion cut short never looks complete."""
    found = snapshots.listing(backup_dir)
    kept = rotation.keep(taken for taken, _ in found)
    removed = []
    for taken, path in found:
        if taken in kept:
            continue
        doomed = path.with_name(snapshots.PARTIAL + path.name)
        try:
            os.rename(path, doomed)
        except FileNotFoundError:
            continue
        shutil.rmtree(doomed, ignore_errors=True)
        removed.append(path)
    return removed
