"""``davdrive restore SNAPSHOT``: a snapshot made into a new drive.

Refused, with nothing written, unless the snapshot is readable and the target
is new: with the folder's own SQLite database, a new or empty data folder; with
PostgreSQL (``database.url``), a database holding no drive (migrated here if
needed) and no server on it (``davdrive.serve_guard``). Then, on SQLite, the
snapshot's database is copied (SQLite backup API) and migrated to the current
schema, and every blob file its rows name is *copied* (never linked: the
restored drive shares no file with the snapshot, so nothing done to one ever
shows in the other) through the blob store's writer, which re-hashes it, so a
damaged or missing blob stops the restore. On PostgreSQL the blobs come first
(``restore_pg``), then the snapshot's rows in one transaction
(``davdrive.table_copy``). A ``restore`` event is appended; finally ``davdrive
check`` runs on the result. A restore that stops removes everything it wrote
(on PostgreSQL: the blobs it added; the rows were never committed).
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy.orm import Session

from davdrive import audit, check, inline_blobs, snapshots
from davdrive.blob_backend import READ_BLOCK, BlobBackend
from davdrive.blobs import BlobStore
from davdrive.errors import BadRequest, Conflict
from davdrive.policy import SYSTEM
from davdrive.runtime import Runtime, open_runtime
from davdrive.settings import DB_FILE, Settings

PROGRESS_EVERY = 1000

Progress = Callable[[int], None]  # blob files copied so far


class DamagedSnapshot(BadRequest):
    """A blob file of the snapshot is missing or does not hash to its address."""


@dataclass
class RestoreResult:
    target: Path
    copied: int
    inline: int
    report: check.Report  # ``davdrive check`` of the restored folder


def restore(
    snapshot: Path, settings: Settings, *, progress: Progress | None = None
) -> RestoreResult:
    """Restore ``snapshot`` into ``settings.data_dir``; see the module docstring."""
    snapshots.read_manifest(snapshot)  # refuses what is not a snapshot
    if settings["database.url"] and not settings.database_url.startswith("sqlite"):
        from davdrive.restore_pg import restore_into_database

        report, copied, inline = restore_into_database(snapshot, settings, progress)
        return RestoreResult(settings.data_dir, copied, inline, report)
    if settings["database.url"]:
        raise BadRequest(
            "restore writes the data folder's own SQLite database (or a PostgreSQL one): "
            "leave database.url empty for the restored folder"
        )
    target = settings.data_dir
    if target.exists() and (not target.is_dir() or any(target.iterdir())):
        raise Conflict(
            f"{target} is not a new or empty folder: restore writes only into one; "
            "nothing was written"
        )
    created = not target.exists()
    target.mkdir(parents=True, exist_ok=True)
    try:
        return _restore_into(snapshot, settings, progress)
    except BaseException:
        _remove_written(target, created)
        raise


def _restore_into(snapshot: Path, settings: Settings, progress: Progress | None) -> RestoreResult:
    source = snapshots.read_only(snapshot / DB_FILE)
    try:
        snapshots.copy_database(source, settings.data_dir / DB_FILE)
    finally:
        source.close()
    runtime = open_runtime(settings)  # migrates a snapshot an older version took
    try:
        with runtime.sessions() as session:
            copied = _copy_blobs(session, BlobStore(snapshot / snapshots.BLOBS, read_only=True),
                                 runtime.blobs, progress)
            inline = len(inline_blobs.digests(session))
        report = record_and_check(runtime, snapshot, copied, inline)
    finally:
        runtime.close()
    return RestoreResult(settings.data_dir, copied, inline, report)


def record_and_check(runtime: Runtime, snapshot: Path, copied: int, inline: int) -> check.Report:
    """The end of every restore: a ``restore`` event naming ``snapshot`` and what was
    copied, then ``davdrive check`` of the restored drive (its report)."""
    with runtime.sessions() as session:
        audit.record(session, user=SYSTEM.login, action="restore",
                     detail=f"from snapshot {snapshot.name}: {copied} blob files copied, "
                            f"{inline} kept in the database")
        session.commit()
    with runtime.sessions() as session:
        report = check.run_check(session, runtime.blobs)
        session.rollback()
    return report


def _copy_blobs(
    session: Session, source: BlobBackend, target: BlobBackend, progress: Progress | None
) -> int:
    copied = 0
    for sha256, row in list(check.file_blobs(session)):
        writer = target.writer()
        try:
            with source.open(sha256) as stream:
                while block := stream.read(READ_BLOCK):
                    writer.write(block)
            info = writer.finish()
        except (FileNotFoundError, ValueError):
            writer.abort()
            raise DamagedSnapshot(
                f"the snapshot lacks blob {sha256} ({row}); nothing was restored. "
                "Try an older snapshot (`davdrive backup --verify SNAPSHOT` checks one)"
            ) from None
        writer.settle(failed=False, referenced=lambda _: True)
        if info.sha256 != sha256:
            raise DamagedSnapshot(
                f"the snapshot's blob {sha256} ({row}) now hashes to {info.sha256}; nothing "
                "was restored. Try an older snapshot (`davdrive backup --verify SNAPSHOT` "
                "checks one)"
            )
        copied += 1
        if progress is not None and copied % PROGRESS_EVERY == 0:
            progress(copied)
    return copied


def _remove_written(target: Path, created: bool) -> None:
    """Remove what a stopped restore wrote: ``target`` itself when it made it, else what
    is inside (it was empty)."""
    if created:
        shutil.rmtree(target, ignore_errors=True)
        return
    for entry in target.iterdir():
        if entry.is_dir() and not entry.is_symlink():
            shutil.rmtree(entry, ignore_errors=True)
        else:
            entry.unlink(missing_ok=True)
