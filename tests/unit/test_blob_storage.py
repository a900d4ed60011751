"""Storage never leaks (issue 11, finding 5): every failure path removes its temp
file, a killed server's temp files go at start-up, and a refused commit's blob file
is collected unless another row or writer holds the same content."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest
from sqlalchemy.orm import Session

from davdrive import tree
from davdrive.blobs import BlobStore
from davdrive.errors import DiskFull, DriveError
from davdrive.policy import SYSTEM
from davdrive.runtime import Runtime, open_runtime
from davdrive.server import create_app
from davdrive.services import Drive
from davdrive.settings import Settings, load_settings
from tests.conftest import files_only_settings, put_file
from tests.tmpfs import fill, small_filesystem


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    """Every upload as a blob file: the rules here are about files in the store."""
    return files_only_settings(tmp_path)


def drive_of(runtime: Runtime, session: Session) -> Drive:
    return Drive(session, runtime.blobs, SYSTEM, runtime.drive_options)


def test_abort_removes_the_temp_file_when_closing_fails_on_a_full_disk(tmp_path: Path) -> None:
    """Rule: abort unlinks even when close raises (close re-flushes the buffer, ENOSPC)."""
    with small_filesystem(tmp_path / "fs", "1m") as fs:
        store = BlobStore(fs / "blobs")
        writer = store.writer()
        fill(fs)
        writer.write(b"x" * 100)  # sits in the file buffer: the disk is already full
        writer.abort()
        assert store.temp_files() == []


def test_a_write_past_the_free_space_raises_diskfull_and_leaves_no_temp_file(
    tmp_path: Path,
) -> None:
    """Rule: ENOSPC is DiskFull (507), and nothing of the upload stays."""
    with small_filesystem(tmp_path / "fs", "1m") as fs:
        store = BlobStore(fs / "blobs")
        writer = store.writer()
        with pytest.raises(DiskFull):
            for _ in range(64):
                writer.write(os.urandom(32768))
            writer.finish()
        assert store.temp_files() == []
        assert list(store.digests()) == []


def test_start_up_removes_temp_files_a_killed_server_left(
    settings: Settings, runtime: Runtime
) -> None:
    """Rule: the app factory removes every temp file older than its start."""
    left = runtime.blobs.tmp_dir / "up-killed"
    left.write_bytes(b"half of a 50 MB upload")
    os.utime(left, (time.time() - 5, time.time() - 5))
    create_app(settings, runtime)
    assert runtime.blobs.temp_files() == []


def test_a_refused_commit_deletes_the_blob_it_stored(runtime: Runtime, session: Session) -> None:
    """Rule: PUT into a folder DELETEd during the body is refused at commit (the
    folder is gone) and leaves no blob."""
    drive = drive_of(runtime, session)
    root = tree.get_root(session)
    folder = drive.make_folder(root, "docs")
    put_file(drive, folder, "old.txt", b"old content")
    upload = drive.begin_upload(folder, "report.txt", None)
    upload.writer.write(b"new content nobody else has")
    with runtime.sessions() as other:
        drive_of(runtime, other).delete(tree.child_named(other, root.id, "docs"))
    with pytest.raises(DriveError):
        drive.finish_upload(upload)
    upload.writer.abort()
    digests = set(runtime.blobs.digests())
    assert len(digests) == 1  # only "old content", kept by the trashed file's row
    assert runtime.blobs.temp_files() == []


def test_a_refused_commit_keeps_a_blob_another_row_refers_to(
    runtime: Runtime, session: Session
) -> None:
    """Rule: content-addressed blobs are shared: a row of another file keeps it."""
    drive = drive_of(runtime, session)
    root = tree.get_root(session)
    folder = drive.make_folder(root, "docs")
    upload = drive.begin_upload(folder, "report.txt", None)
    upload.writer.write(b"shared content")
    with runtime.sessions() as other:
        d2 = drive_of(runtime, other)
        put_file(d2, tree.get_root(other), "copy.txt", b"shared content")
        d2.delete(tree.child_named(other, root.id, "docs"))
    with pytest.raises(DriveError):  # the folder is gone: the commit is refused
        drive.finish_upload(upload)
    with runtime.sessions() as s:
        copy = tree.child_named(s, root.id, "copy.txt")
        assert copy is not None and copy.blob_sha256 is not None
        assert runtime.blobs.verify(copy.blob_sha256)


def test_a_failed_writer_keeps_a_blob_another_writer_is_about_to_commit(
    tmp_path: Path,
) -> None:
    """Rule: a blob pending for a concurrent upload of the same content is kept."""
    store = BlobStore(tmp_path / "blobs")
    first, second = store.writer(), store.writer()
    for w in (first, second):
        w.write(b"same bytes")
    info = first.finish()
    second.finish()
    store.settle(first, failed=True, referenced=lambda _: False)
    assert store.exists(info.sha256)  # the second upload still commits a row for it
    store.settle(second, failed=True, referenced=lambda _: False)
    assert not store.exists(info.sha256)  # nobody left: collected
    assert store.temp_files() == []


def test_with_several_processes_a_failed_commit_never_deletes_a_blob(tmp_path: Path) -> None:
    """Rule (no data lost): pending counts are per process, so with ``server.workers``
    above 1 an identical upload in another process may be between placing this blob
    and committing its row; the failed commit here must leave the file (an orphan
    for ``davdrive check --repair``), where a single process collects it."""
    store = BlobStore(tmp_path / "blobs", collect_failed=False)
    writer = store.writer()
    writer.write(b"bytes another worker is about to commit")
    info = writer.finish()
    store.settle(writer, failed=True, referenced=lambda _: False)
    assert store.exists(info.sha256)
    single = load_settings(None, {}, {"data_dir": str(tmp_path / "one")})
    several = load_settings(None, {}, {"data_dir": str(tmp_path / "two"), "server.workers": 2})
    for settings, collects in ((single, True), (several, False)):
        runtime = open_runtime(settings)
        try:
            assert runtime.blobs.collect_failed is collects
        finally:
            runtime.close()


def test_new_blob_folders_are_made_durable_before_the_row_can_commit(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Rule (durability): after a crash a committed row never points into a lost folder.
    Storing the first blob of a new prefix fsyncs every folder that received a new
    entry (the store's root, the two-level prefix folders) and the blob's own folder.
    Power loss cannot be produced here, so the fsyncs are recorded around the real ones."""
    from davdrive import blob_files

    synced: list[Path] = []
    real = blob_files.fsync_dir

    def recording(path: Path) -> None:
        synced.append(Path(path))
        real(path)

    monkeypatch.setattr(blob_files, "fsync_dir", recording)
    store = BlobStore(tmp_path / "blobs")
    info = store.put_bytes(b"first content of its prefix")
    folder = store.path(info.sha256).parent
    assert {store.root, folder.parent, folder} <= set(synced), synced
    synced.clear()
    store.put_bytes(b"first content of its prefix")  # already there: nothing new
    assert folder.parent not in synced and store.root not in synced


def test_the_database_commits_with_full_synchronous_writes(runtime: Runtime) -> None:
    """Rule (durability): a 201 survives a power cut: SQLite syncs each commit
    (PRAGMA synchronous=FULL, 2), not only at checkpoints (NORMAL, 1)."""
    with runtime.engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA synchronous").scalar() == 2
