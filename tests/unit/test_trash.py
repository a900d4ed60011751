"""The trash (DESIGN 4): deleted items kept ``storage.trash_days``, listed and restored
by document administrators, purged afterwards with the content only they used."""

from __future__ import annotations

import datetime as dt
import io
from pathlib import Path

import pytest
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from davdrive import attachments, demo_files, node_admin, records, tree
from davdrive.errors import BadRequest, Conflict, Forbidden, NameNotAvailable, NotFound
from davdrive.models import AuditEvent, Blob, Category, DeadProperty, FolderRight, Node
from davdrive.policy import SYSTEM, Actor, may_manage_trash
from davdrive.runtime import Runtime
from davdrive.services import Drive
from davdrive.settings import Settings
from davdrive.trash import find_trashed, list_trash, restore_from_trash
from davdrive.trash_purge import purge_trash
from tests.conftest import files_only_settings, put_file

DOC_ADMIN = Actor(user_id=None, login="ada", category="admin", documents="admin")
WRITER = Actor(user_id=None, login="wendy", category="office", documents="write")
PDF = demo_files.pdf_with_text("Label")


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    """Every upload as a blob file: the purge rules are about files in the store."""
    return files_only_settings(tmp_path)


@pytest.fixture
def drive(runtime: Runtime, session: Session) -> Drive:
    return Drive(session, runtime.blobs, SYSTEM, runtime.drive_options)


def folder(drive: Drive, path: str) -> Node:
    return node_admin.make_folders(drive.session, drive, path)[0]


def live(session: Session, path: str) -> Node | None:
    chain = tree.resolve_chain(session, [p for p in path.split("/") if p])
    return chain[-1] if chain else None


def backdate(session: Session, node: Node, days: float) -> None:
    """Make ``node``'s deletion (and its group's) ``days`` older."""
    assert node.deleted_at is not None
    when = node.deleted_at - dt.timedelta(days=days)
    session.execute(update(Node).where(Node.deleted_at == node.deleted_at)
                    .values(deleted_at=when))
    session.commit()
    session.refresh(node)


def in_store(runtime: Runtime, data: bytes) -> bool:
    import hashlib

    return runtime.blobs.exists(hashlib.sha256(data).hexdigest())


# --- who -------------------------------------------------------------------------------------


def test_only_document_administrators_and_the_system_manage_the_trash() -> None:
    assert may_manage_trash(SYSTEM) and may_manage_trash(DOC_ADMIN)
    refused = may_manage_trash(WRITER)
    assert not refused and "document administrators" in refused.reason
    assert not may_manage_trash(Actor(user_id=1, login="m", documents="read", members="admin",
                                      config=True))


def test_others_may_not_list_restore_or_purge(runtime: Runtime, session: Session) -> None:
    for call in (
        lambda: list_trash(session, WRITER, retention_days=30),
        lambda: restore_from_trash(session, WRITER, "/x"),
        lambda: purge_trash(session, runtime.blobs, WRITER, older_than_days=0),
    ):
        with pytest.raises(Forbidden, match="document administrators"):
            call()


# --- list ------------------------------------------------------------------------------------


def test_list_shows_each_deletion_with_its_size_author_and_expiry(
    session: Session, drive: Drive
) -> None:
    """Rule: an entry is what was deleted on its own, with what was deleted with it;
    it expires ``retention_days`` after its deletion; newest first."""
    board = folder(drive, "/Board")
    put_file(drive, board, "old.txt", b"12345")
    drive.delete(tree.child_named(session, board.id, "old.txt"))  # deleted first, on its own
    put_file(drive, board, "a.txt", b"abc")
    put_file(drive, board, "b.txt", b"defg")
    drive.delete(board)
    entries = list_trash(session, DOC_ADMIN, retention_days=30)
    assert [(e.path, e.kind, e.items, e.files, e.size, e.deleted_by) for e in entries] == [
        ("/Board", "folder", 3, 2, 7, "system"),
        ("/Board/old.txt", "file", 1, 1, 5, "system"),
    ]
    assert entries[0].expires_at - entries[0].deleted_at == dt.timedelta(days=30)
    assert entries[0].deleted_at.tzinfo is not None
    assert entries[0].as_dict()["path"] == "/Board"


def test_the_trash_is_empty_at_first(session: Session) -> None:
    assert list_trash(session, SYSTEM, retention_days=30) == []


# --- restore ---------------------------------------------------------------------------------


def test_restore_brings_back_the_whole_folder_as_it_was(
    runtime: Runtime, session: Session, drive: Drive
) -> None:
    """Rule: restoring brings back everything deleted together: bytes, owner,
    classification, times, dead properties, folder rights."""
    board = folder(drive, "/Board")
    node_admin.set_folder_rights(session, board, {"member": "read"})
    note = put_file(drive, board, "minutes.txt", b"Meeting of 3 May")
    drive.set_classification(note, min_degree=2, doc_type="minutes")
    drive.set_dead_property(note, "{urn:x}colour", "<x:colour xmlns:x='urn:x'>blue</x:colour>",
                            dry_run=False)
    drive.set_mtime(note, 1_700_000_000.0)
    session.commit()
    before = (note.owner_id, note.min_degree, note.doc_type, note.mtime, note.blob_sha256)
    drive.delete(board)
    assert live(session, "/Board") is None

    done = restore_from_trash(session, DOC_ADMIN, "/board")  # any case, like every path
    session.commit()

    assert (done.path, done.items) == ("/Board", 2)
    back = live(session, "/Board/minutes.txt")
    assert back is not None and back.deleted_by is None
    assert (back.owner_id, back.min_degree, back.doc_type, back.mtime, back.blob_sha256) == before
    assert session.get(DeadProperty, (back.id, "{urn:x}colour")) is not None
    back_folder = live(session, "/Board")
    assert back_folder is not None
    assert node_admin.folder_rights(session, back_folder) == {"member": "read"}
    with drive.open_content(back) as stream:
        assert stream.read() == b"Meeting of 3 May"
    event = session.scalars(select(AuditEvent).order_by(AuditEvent.id.desc())).first()
    assert event is not None and (event.action, event.user_login, event.path) == (
        "trash.restore", "ada", "/Board")
    assert list_trash(session, SYSTEM, retention_days=30) == []


def test_restore_leaves_in_the_trash_what_was_deleted_before(
    session: Session, drive: Drive
) -> None:
    board = folder(drive, "/Board")
    drive.delete(put_file(drive, board, "draft.txt", b"draft"))
    drive.delete(board)
    restore_from_trash(session, SYSTEM, "/Board")
    session.commit()
    assert live(session, "/Board") is not None and live(session, "/Board/draft.txt") is None
    assert [e.path for e in list_trash(session, SYSTEM, retention_days=30)] == [
        "/Board/draft.txt"]


def test_restore_over_a_taken_name_is_refused_then_works_under_another_name(
    session: Session, drive: Drive
) -> None:
    """Rule: a live item now holding the name is never overwritten; the refusal asks
    for another name, and nothing changes; ``as_name`` restores it under that name."""
    root = tree.get_root(session)
    drive.delete(put_file(drive, root, "budget.txt", b"old budget"))
    put_file(drive, root, "budget.txt", b"new budget")
    with pytest.raises(NameNotAvailable, match=r"taken.*another name"):
        restore_from_trash(session, SYSTEM, "/budget.txt")
    session.rollback()
    assert len(list_trash(session, SYSTEM, retention_days=30)) == 1
    with pytest.raises(BadRequest):
        restore_from_trash(session, SYSTEM, "/budget.txt", as_name="bad:name.txt")
    session.rollback()
    with pytest.raises(NameNotAvailable):
        restore_from_trash(session, SYSTEM, "/budget.txt", as_name="Backoffice")
    session.rollback()
    done = restore_from_trash(session, SYSTEM, "/budget.txt", as_name="budget (old).txt")
    session.commit()
    assert done.path == "/budget (old).txt"
    with drive.open_content(live(session, "/budget (old).txt")) as stream:  # type: ignore[arg-type]
        assert stream.read() == b"old budget"
    with drive.open_content(live(session, "/budget.txt")) as stream:  # type: ignore[arg-type]
        assert stream.read() == b"new budget"


def test_restore_inside_a_trashed_folder_names_the_folder_to_restore_first(
    session: Session, drive: Drive
) -> None:
    board = folder(drive, "/Board")
    drive.delete(put_file(drive, board, "draft.txt", b"draft"))
    put_file(drive, board, "final.txt", b"final")
    drive.delete(board)
    with pytest.raises(Conflict, match=r"folder /Board .*in the trash too: restore it first"):
        restore_from_trash(session, SYSTEM, "/Board/draft.txt")
    session.rollback()
    with pytest.raises(Conflict, match=r"deleted with its folder /Board: restore that folder"):
        restore_from_trash(session, SYSTEM, "/Board/final.txt")


def test_restore_picks_the_last_deleted_unless_an_id_is_given(
    session: Session, drive: Drive
) -> None:
    root = tree.get_root(session)
    first = put_file(drive, root, "plan.txt", b"first")
    drive.delete(first)
    drive.delete(put_file(drive, root, "plan.txt", b"second"))
    assert find_trashed(session, "/plan.txt").id != first.id
    restore_from_trash(session, SYSTEM, "/plan.txt", entry_id=first.id)
    session.commit()
    with drive.open_content(live(session, "/plan.txt")) as stream:  # type: ignore[arg-type]
        assert stream.read() == b"first"


def test_restore_of_nothing_is_not_found(session: Session, drive: Drive) -> None:
    put_file(drive, tree.get_root(session), "live.txt", b"x")
    with pytest.raises(NotFound, match="in the trash"):
        restore_from_trash(session, SYSTEM, "/live.txt")
    session.rollback()
    with pytest.raises(BadRequest):
        restore_from_trash(session, SYSTEM, "/")


# --- purge -----------------------------------------------------------------------------------


def test_purge_removes_what_is_past_the_age_and_frees_only_its_content(
    runtime: Runtime, session: Session, drive: Drive
) -> None:
    """Rule: a purge removes entries deleted more than the given days ago, with their
    versions, and frees the blobs only they used; a blob a live file, a version or an
    attachment still uses stays."""
    root = tree.get_root(session)
    old = put_file(drive, root, "old.txt", b"only the trash uses this")
    put_file(drive, root, "old.txt", b"old, second version")  # the first is a version
    put_file(drive, root, "shared-live.txt", b"a live file uses this")
    shared = put_file(drive, root, "copy.txt", b"a live file uses this")
    kept = put_file(drive, root, "kept.txt", b"a version uses this")
    put_file(drive, root, "kept.txt", b"kept, current")
    doomed_version = put_file(drive, root, "versioned.txt", b"a version uses this")
    record = records.add_record(session, "product", "Jam")
    attachments.attach(session, runtime.blobs, record,
                       [attachments.Upload("label.pdf", io.BytesIO(PDF))])
    session.commit()
    attached = put_file(drive, root, "label.pdf", PDF)
    recent = put_file(drive, root, "recent.txt", b"deleted yesterday")
    for node in (old, shared, doomed_version, attached):
        drive.delete(node)
        backdate(session, node, 40)
    drive.delete(recent)
    backdate(session, recent, 1)
    assert kept.deleted_at is None

    purged = purge_trash(session, runtime.blobs, DOC_ADMIN, older_than_days=30, min_age=0)
    session.commit()

    assert (purged.entries, purged.items) == (4, 4)
    assert purged.collected.blobs == 2  # the two contents only "old.txt" used
    assert not in_store(runtime, b"only the trash uses this")
    assert not in_store(runtime, b"old, second version")
    for data in (b"a live file uses this", b"a version uses this", PDF, b"deleted yesterday"):
        assert in_store(runtime, data), data
    assert [e.path for e in list_trash(session, SYSTEM, retention_days=30)] == ["/recent.txt"]
    events = session.scalars(select(AuditEvent).where(AuditEvent.action == "trash.purge")).all()
    assert sorted(e.path for e in events) == ["/copy.txt", "/label.pdf", "/old.txt",
                                              "/versioned.txt"]
    assert all(e.user_login == "ada" for e in events)


def test_purge_of_a_folder_removes_its_rights_and_refreshes_the_rights_caches(
    runtime: Runtime, session: Session, drive: Drive
) -> None:
    board = folder(drive, "/Board")
    node_admin.set_folder_rights(session, board, {"member": "read"})
    session.commit()
    member = session.scalars(select(Category).where(Category.slug == "member")).one()
    version = member.version
    drive.delete(board)
    purge_trash(session, runtime.blobs, SYSTEM, older_than_days=0)
    session.commit()
    session.refresh(member)
    assert member.version == version + 1
    assert session.scalars(select(FolderRight).where(FolderRight.folder_id == board.id)).all() == []
    assert session.get(Node, board.id) is None


def test_purge_refuses_a_negative_age_and_with_nothing_to_do_changes_nothing(
    runtime: Runtime, session: Session
) -> None:
    with pytest.raises(BadRequest):
        purge_trash(session, runtime.blobs, SYSTEM, older_than_days=-1)
    session.rollback()
    blobs = session.scalars(select(Blob.sha256)).all()
    purged = purge_trash(session, runtime.blobs, SYSTEM, older_than_days=0)
    assert (purged.entries, purged.collected.blobs) == (0, 0)
    assert session.scalars(select(Blob.sha256)).all() == blobs
