"""Blob garbage collection (DESIGN 4: unreferenced blobs are garbage-collected).

Rules: a blob no live node, trashed node, version or attachment uses is removed
(its row and its file, or its row in the database); never one still used;
never a file changed recently nor the temp folder; an upload whose blob was
removed between its ``finish`` and its commit puts it back; every run that
removes something is audited with the count and the bytes.
"""

from __future__ import annotations

import hashlib
import io
import os
import time
from pathlib import Path

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from davdrive import attachments, demo_files, records, tree
from davdrive.blob_gc import collect_garbage
from davdrive.blobs import BlobInfo, BlobStore
from davdrive.conflicts import ensure_blob_row
from davdrive.models import AuditEvent, Blob, BlobInline, Node
from davdrive.runtime import Runtime
from davdrive.settings import load_settings
from tests.conftest import put_file
from tests.unit import test_blob_storage
from tests.unit.test_blob_storage import drive_of

settings = test_blob_storage.settings  # every upload as a blob file (a fixture)

PDF = demo_files.pdf_with_text("Minutes")


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def stray_blob(runtime: Runtime, session: Session, data: bytes) -> str:
    """A stored blob with its row and nothing referring to it (what a purge leaves)."""
    info = runtime.blobs.put_bytes(data)
    ensure_blob_row(session, info)
    session.commit()
    return info.sha256


def age(runtime: Runtime, sha256: str, seconds: float = 3600) -> None:
    """Make the blob's file look written ``seconds`` ago."""
    past = time.time() - seconds
    os.utime(runtime.blobs.path(sha256), (past, past))


def test_only_blobs_nothing_uses_are_removed(runtime: Runtime, session: Session) -> None:
    """Rule: a blob used by a live file, a trashed file, a version or an attachment
    stays; one nothing uses goes, row and file."""
    drive = drive_of(runtime, session)
    root = tree.get_root(session)
    put_file(drive, root, "live.txt", b"live content")
    put_file(drive, root, "edited.txt", b"first draft")
    put_file(drive, root, "edited.txt", b"second draft")  # the first is now a version
    drive.delete(put_file(drive, root, "trashed.txt", b"trashed content"))
    record = records.add_record(session, "product", "Jam")
    attachments.attach(session, runtime.blobs, record,
                       [attachments.Upload("label.pdf", io.BytesIO(PDF))])
    session.commit()
    stray = stray_blob(runtime, session, b"nothing uses this")
    used = [sha(b"live content"), sha(b"first draft"), sha(b"second draft"),
            sha(b"trashed content"), sha(PDF)]

    collected = collect_garbage(session, runtime.blobs, min_age=0)
    session.commit()

    assert (collected.blobs, collected.bytes) == (1, len(b"nothing uses this"))
    assert session.get(Blob, stray) is None and not runtime.blobs.exists(stray)
    for sha256 in used:
        assert session.get(Blob, sha256) is not None, sha256
        assert runtime.blobs.verify(sha256), sha256


def test_a_detached_attachments_blob_is_collected(runtime: Runtime, session: Session) -> None:
    """Rule: detaching leaves the blob behind; the collection frees it when no other
    attachment uses the same content."""
    record = records.add_record(session, "product", "Jam")
    other = records.add_record(session, "product", "Honey")
    [first] = attachments.attach(session, runtime.blobs, record,
                                 [attachments.Upload("label.pdf", io.BytesIO(PDF))])
    [second] = attachments.attach(session, runtime.blobs, other,
                                  [attachments.Upload("label.pdf", io.BytesIO(PDF))])
    session.commit()
    attachments.detach(session, first)
    session.commit()
    assert collect_garbage(session, runtime.blobs, min_age=0).blobs == 0  # still used
    attachments.detach(session, second)
    session.commit()
    assert collect_garbage(session, runtime.blobs, min_age=0).blobs == 1
    session.commit()
    assert not runtime.blobs.exists(sha(PDF))


def test_versions_past_the_limit_free_their_content(
    tmp_path: Path, fast_passwords: object
) -> None:
    """Rule: versions beyond ``storage.versions`` are dropped at the overwrite; their
    content is then collected."""
    from davdrive.runtime import open_runtime

    runtime = open_runtime(load_settings(None, {}, {
        "data_dir": str(tmp_path / "v"), "storage.inline_blob_bytes": 0, "storage.versions": 1,
    }))
    try:
        with runtime.sessions() as session:
            drive = drive_of(runtime, session)
            root = tree.get_root(session)
            for text in (b"v1", b"v2", b"v3"):
                put_file(drive, root, "plan.txt", text)
            collected = collect_garbage(session, runtime.blobs, min_age=0)
            session.commit()
            assert collected.blobs == 1 and not runtime.blobs.exists(sha(b"v1"))
            assert runtime.blobs.exists(sha(b"v2")) and runtime.blobs.exists(sha(b"v3"))
    finally:
        runtime.close()


def test_young_files_and_the_temp_folder_are_left_alone(
    runtime: Runtime, session: Session
) -> None:
    """Rule: a blob file written in the last minutes (``min_age``) is kept for a later
    run; the temp folder is never touched."""
    stray = stray_blob(runtime, session, b"just written")
    in_flight = runtime.blobs.tmp_dir / "up-in-flight"
    in_flight.write_bytes(b"an upload being received")
    collected = collect_garbage(session, runtime.blobs)
    session.commit()
    assert (collected.blobs, collected.young) == (0, 1)
    assert runtime.blobs.exists(stray) and session.get(Blob, stray) is not None
    age(runtime, stray)
    assert collect_garbage(session, runtime.blobs).blobs == 1
    session.commit()
    assert not runtime.blobs.exists(stray)
    assert in_flight.read_bytes() == b"an upload being received"


def test_content_kept_in_the_database_is_collected_too(
    tmp_path: Path, fast_passwords: object
) -> None:
    """Rule: an unreferenced small blob loses its ``blob_inline`` row with its row."""
    from davdrive.runtime import open_runtime

    runtime = open_runtime(load_settings(None, {}, {"data_dir": str(tmp_path / "i")}))
    try:
        with runtime.sessions() as session:
            drive = drive_of(runtime, session)
            root = tree.get_root(session)
            drive.delete(put_file(drive, root, "note.txt", b"small"))
            session.execute(delete(Node).where(Node.name == "note.txt"))
            session.commit()
            assert session.get(BlobInline, sha(b"small")) is not None
            assert collect_garbage(session, runtime.blobs).blobs == 1  # no file: no age
            session.commit()
            assert session.get(BlobInline, sha(b"small")) is None
            assert session.get(Blob, sha(b"small")) is None
    finally:
        runtime.close()


def test_a_run_that_removes_something_is_audited(runtime: Runtime, session: Session) -> None:
    stray_blob(runtime, session, b"twelve bytes")
    assert collect_garbage(session, runtime.blobs, min_age=0).blobs == 1
    session.commit()
    event = session.scalars(select(AuditEvent).order_by(AuditEvent.id.desc())).first()
    assert event is not None
    assert (event.action, event.user_login) == ("blob.collect", "system")
    assert "1 blob(s)" in event.detail and "12 bytes" in event.detail
    count = session.scalar(select(AuditEvent.id).order_by(AuditEvent.id.desc()))
    collect_garbage(session, runtime.blobs, min_age=0)  # nothing to remove: no event
    session.commit()
    assert session.scalar(select(AuditEvent.id).order_by(AuditEvent.id.desc())) == count


def test_an_upload_whose_blob_was_collected_before_its_commit_puts_it_back(
    runtime: Runtime, session: Session
) -> None:
    """Rule (the race): the collection may remove a blob between an upload's finish
    and its commit (same content, nothing committed uses it yet); the commit puts it
    back, so the new file reads whole, and no temp file is left."""
    drive = drive_of(runtime, session)
    root = tree.get_root(session)
    drive.delete(put_file(drive, root, "old.txt", b"same content"))
    session.commit()
    upload = drive.begin_upload(root, "new.txt", None)
    upload.writer.write(b"same content")
    real_finish = upload.writer.finish

    def finish_then_collect() -> BlobInfo:
        info = real_finish()  # at its address (it was already), not committed yet
        with runtime.sessions() as other:  # meanwhile: the trash purged, the blob collected
            other.execute(delete(Node).where(Node.name == "old.txt"))
            assert collect_garbage(other, runtime.blobs, min_age=0).blobs == 1
            other.commit()
        assert not runtime.blobs.exists(info.sha256)
        return info

    upload.writer.finish = finish_then_collect  # type: ignore[method-assign]
    node = drive.finish_upload(upload)
    assert node.blob_sha256 == sha(b"same content")
    assert runtime.blobs.verify(node.blob_sha256)
    assert runtime.blobs.temp_files() == []


def test_ensure_placed_links_the_bytes_back_and_settle_drops_the_temp_file(
    tmp_path: Path,
) -> None:
    """Rule: a finished writer keeps a second link to its bytes until settled."""
    store = BlobStore(tmp_path / "blobs")
    writer = store.writer()
    writer.write(b"bytes")
    info = writer.finish()
    assert len(store.temp_files()) == 1
    store.delete(info.sha256)  # what a collection does
    writer.ensure_placed()
    assert store.verify(info.sha256)
    store.settle(writer, False, lambda _: True)
    assert store.temp_files() == [] and store.verify(info.sha256)


def test_an_empty_file_made_by_lock_keeps_its_content_in_the_database(
    runtime: Runtime, session: Session
) -> None:
    """Rule: LOCK on a new name makes an empty file whose (empty) content the same
    commit stores: no blob file that a collection could remove before it."""
    drive = drive_of(runtime, session)
    node = drive.create_empty_file(tree.get_root(session), "report.docx")
    assert node.blob_sha256 == sha(b"") and not runtime.blobs.exists(sha(b""))
    assert session.get(BlobInline, sha(b"")) is not None
    assert collect_garbage(session, runtime.blobs, min_age=0).blobs == 0
    with drive.open_content(node) as stream:
        assert stream.read() == b""


def test_no_blob_is_removed_while_a_backup_runs(runtime: Runtime, session: Session) -> None:
    """Rule: a backup links the blobs its database copy names; a collection during it
    would leave the snapshot incomplete, so it removes nothing until the backup ends."""
    from davdrive.blob_removal import keeping_blobs

    stray = stray_blob(runtime, session, b"nothing uses this")
    with keeping_blobs(runtime.blobs.lock_dir):
        assert collect_garbage(session, runtime.blobs, min_age=0).blobs == 0
        session.commit()
        assert runtime.blobs.exists(stray)
    assert collect_garbage(session, runtime.blobs, min_age=0).blobs == 1
    session.commit()
    assert not runtime.blobs.exists(stray)


def test_a_backup_waits_for_a_collection_to_commit(runtime: Runtime, session: Session) -> None:
    """Rule: from its first removal to its commit, a collection keeps backups out, so a
    snapshot never copies rows whose files are already gone."""
    import threading

    from davdrive.blob_removal import keeping_blobs

    stray_blob(runtime, session, b"nothing uses this")
    assert collect_garbage(session, runtime.blobs, min_age=0).blobs == 1  # not committed
    entered = threading.Event()

    def backup() -> None:
        with keeping_blobs(runtime.blobs.lock_dir):
            entered.set()

    waiting = threading.Thread(target=backup)
    waiting.start()
    assert not entered.wait(0.3), "the backup started before the collection committed"
    session.commit()
    assert entered.wait(5)
    waiting.join()
