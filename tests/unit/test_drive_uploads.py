"""Several files uploaded into one folder in one submit (``Drive.upload_files``).

Rules (DESIGN 3-4, 6; davdrive/drive_uploads.py): each file is checked as a
WebDAV PUT of it (rights, names, reserved and hidden names, size limit,
quotas); one refused file refuses the submit, naming every refused file with
its reason, and nothing is stored (no row, no blob file); the quotas count the
whole submit; an accepted submit is one commit with one audit event per file;
a file over one the actor may modify replaces it and keeps a version; junk
files are skipped; memory stays bounded by a chunk whatever the file sizes.
"""

from __future__ import annotations

import hashlib
import io
import tracemalloc
from collections.abc import Iterator
from pathlib import Path
from typing import Any, BinaryIO

import pytest
from sqlalchemy import event, func, select
from sqlalchemy.orm import Session

from davdrive import accounts, node_admin, tree
from davdrive.drive_uploads import IncomingFile
from davdrive.errors import (
    BadRequest,
    ChangedMeanwhile,
    FilesRefused,
    Forbidden,
    NameNotAvailable,
    QuotaExceeded,
    TooLarge,
    status_of,
)
from davdrive.models import AuditEvent, Blob, BlobInline, Node, NodeVersion
from davdrive.policy import SYSTEM
from davdrive.runtime import Runtime
from davdrive.services import Drive
from davdrive.settings import Settings, load_settings
from davdrive.users import actor_for
from tests.conftest import add_user, put_file, stored_bytes

MIB = 1024 * 1024


@pytest.fixture
def settings(tmp_path: Path, request: pytest.FixtureRequest) -> Settings:
    """Every upload as a blob file (so that a leak shows in the store), plus the
    test's own settings (``indirect`` parameter)."""
    values = {"data_dir": str(tmp_path / "data"), "server.port": 0,
              "storage.inline_blob_bytes": 0, **getattr(request, "param", {})}
    return load_settings(None, {}, values)


@pytest.fixture
def people(runtime: Runtime) -> Runtime:
    add_user(runtime, "olivia", documents="write")  # writes in /Docs
    add_user(runtime, "walter", documents="write")  # same right, not olivia's files
    add_user(runtime, "rita", documents="read")  # reads only
    return runtime


@pytest.fixture
def docs(people: Runtime, session: Session) -> Node:
    drive = Drive(session, people.blobs, SYSTEM, people.drive_options)
    folder, _ = node_admin.make_folders(session, drive, "/Docs")
    session.commit()
    return folder


def drive_as(runtime: Runtime, session: Session, login: str) -> Drive:
    user = accounts.find_user(session, login)
    assert user is not None
    return Drive(session, runtime.blobs, actor_for(user), runtime.drive_options)


def named(*pairs: tuple[str, bytes]) -> list[IncomingFile]:
    return [IncomingFile(name, io.BytesIO(data)) for name, data in pairs]


def names_in(session: Session, folder: Node) -> set[str]:
    session.expire_all()
    return {n.name for n in tree.children(session, folder.id)}


def store_files(runtime: Runtime) -> list[Path]:
    """Every file of the blob store: stored blobs and temp files alike."""
    return sorted(p for p in runtime.blobs.root.rglob("*") if p.is_file())


def blob_rows(session: Session) -> int:
    return session.scalar(select(func.count()).select_from(Blob)) or 0


def events(session: Session, action: str) -> list[str]:
    return list(session.scalars(select(AuditEvent.path).where(AuditEvent.action == action)
                                .order_by(AuditEvent.id)))


@pytest.fixture
def commits(session: Session) -> Iterator[list[int]]:
    """Commits of transactions that wrote something (flushed), one entry each."""
    seen: list[int] = []
    flushed: list[bool] = []

    def on_flush(*_: object) -> None:
        flushed.append(True)

    def on_commit(_: Session) -> None:
        if flushed:
            seen.append(1)
        flushed.clear()

    def on_rollback(_: Session) -> None:
        flushed.clear()

    hooks = (("after_flush", on_flush), ("after_commit", on_commit),
             ("after_rollback", on_rollback))
    for name, hook in hooks:
        event.listen(session, name, hook)
    yield seen
    for name, hook in hooks:
        event.remove(session, name, hook)


def refusal_of(drive: Drive, folder: Node, incoming: list[IncomingFile]) -> FilesRefused:
    with pytest.raises(FilesRefused) as refused:
        drive.upload_files(folder, incoming)
    return refused.value


# --- all stored --------------------------------------------------------------------------------


def test_every_file_is_stored_in_one_commit_with_one_audit_event_each(
    people: Runtime, session: Session, docs: Node, commits: list[int]
) -> None:
    drive = drive_as(people, session, "olivia")
    contents = {"agenda.txt": b"1. welcome", "budget.ods": b"\x00\x01" * 500,
                "Caf\u00e9 menu.pdf": b"%PDF-1.4 menu"}
    done = drive.upload_files(docs, named(*contents.items()))
    assert [n.name for n in done.created] == list(contents)
    assert done.replaced == [] and done.skipped == []
    assert len(commits) == 1, "one transaction for the whole submit"
    for node in done.created:
        assert stored_bytes(people, node.blob_sha256 or "", node.size) == contents[node.name]
        assert node.owner_id == drive.actor.user_id
    assert events(session, "create") == [f"/Docs/{name}" for name in contents]
    assert [p for p in store_files(people) if p.parent.name == "tmp"] == []


# --- refused: nothing stored -------------------------------------------------------------------


def test_a_refused_name_refuses_the_submit_naming_every_refused_file(
    people: Runtime, session: Session, docs: Node
) -> None:
    """Windows-unsafe characters and device names are refused as a PUT refuses them;
    the valid file is not stored either, and no blob file is left."""
    before = store_files(people), blob_rows(session)
    refused = refusal_of(drive_as(people, session, "olivia"), docs, named(
        ("minutes.txt", b"ok"), ("bad:name.txt", b"colon"), ("CON.txt", b"device")))
    assert [name for name, _ in refused.refusals] == ["bad:name.txt", "CON.txt"]
    reasons = dict(refused.refusals)
    assert "may not contain" in reasons["bad:name.txt"]
    assert "reserved device name" in reasons["CON.txt"]
    assert "'bad:name.txt'" in refused.message and "'CON.txt'" in refused.message
    assert status_of(refused) == 400
    assert names_in(session, docs) == set()
    assert (store_files(people), blob_rows(session)) == before


def test_a_reserved_root_name_is_not_available(people: Runtime, session: Session) -> None:
    root = tree.get_root(session)
    refused = refusal_of(drive_as(people, session, "olivia"), root,
                         named(("Backoffice", b"x"), ("fine.txt", b"y")))
    assert refused.refusals[0][0] == "Backoffice"
    assert isinstance(refused.refused[0][1], NameNotAvailable)
    assert status_of(refused) == 409
    assert names_in(session, root) == set()


def test_a_name_given_twice_in_one_submit_is_refused(
    people: Runtime, session: Session, docs: Node
) -> None:
    """Names are case-insensitive in a folder: Notes.txt and notes.txt are the same."""
    refused = refusal_of(drive_as(people, session, "olivia"), docs,
                         named(("Notes.txt", b"1"), ("notes.txt", b"2")))
    assert [name for name, _ in refused.refusals] == ["notes.txt"]
    assert "already part of this upload" in refused.refusals[0][1]
    assert names_in(session, docs) == set()


def test_a_reader_may_not_upload(people: Runtime, session: Session, docs: Node) -> None:
    refused = refusal_of(drive_as(people, session, "rita"), docs,
                         named(("a.txt", b"a"), ("b.txt", b"b")))
    assert [name for name, _ in refused.refusals] == ["a.txt", "b.txt"]
    assert all(isinstance(error, Forbidden) for _, error in refused.refused)
    assert status_of(refused) == 403
    assert names_in(session, docs) == set()


@pytest.mark.parametrize("settings", [{"dav.max_upload_bytes": 100}], indirect=True)
def test_a_file_larger_than_the_upload_limit_is_refused(
    people: Runtime, session: Session, docs: Node
) -> None:
    refused = refusal_of(drive_as(people, session, "olivia"), docs,
                         named(("small.txt", b"s" * 100), ("big.bin", b"b" * 101)))
    assert [name for name, _ in refused.refusals] == ["big.bin"]
    assert isinstance(refused.refused[0][1], TooLarge) and status_of(refused) == 413
    assert names_in(session, docs) == set()


def test_an_empty_submit_is_a_bad_request(people: Runtime, session: Session, docs: Node) -> None:
    with pytest.raises(BadRequest, match="at least one file"):
        drive_as(people, session, "olivia").upload_files(docs, [])


@pytest.mark.parametrize("settings", [{"storage.category_quotas": ["docs-write=1000"]}],
                         indirect=True)
def test_the_quota_counts_the_whole_submit(
    people: Runtime, session: Session, docs: Node
) -> None:
    """Each file alone fits the 1000-byte quota; the two together do not: 507, nothing
    stored."""
    before = store_files(people)
    with pytest.raises(QuotaExceeded) as refused:
        drive_as(people, session, "olivia").upload_files(
            docs, named(("one.bin", b"1" * 600), ("two.bin", b"2" * 600)))
    assert status_of(refused.value) == 507
    assert "upload of 2 file(s)" in refused.value.message
    assert names_in(session, docs) == set()
    assert store_files(people) == before


# --- names already taken ----------------------------------------------------------------------


def test_an_upload_over_an_own_file_replaces_it_and_keeps_a_version(
    people: Runtime, session: Session, docs: Node
) -> None:
    drive = drive_as(people, session, "olivia")
    old = put_file(drive, docs, "report.txt", b"first draft")
    done = drive.upload_files(docs, named(("REPORT.txt", b"final"), ("annex.txt", b"annex")))
    assert [n.id for n in done.replaced] == [old.id]
    assert [n.name for n in done.created] == ["annex.txt"]
    session.expire_all()
    node = session.get(Node, old.id)
    assert node is not None and node.name == "report.txt"  # the existing name is kept
    assert stored_bytes(people, node.blob_sha256 or "", node.size) == b"final"
    versions = session.scalars(select(NodeVersion).where(NodeVersion.node_id == old.id)).all()
    assert [v.blob_sha256 for v in versions] == [hashlib.sha256(b"first draft").hexdigest()]
    assert events(session, "overwrite") == ["/Docs/report.txt"]


def test_an_upload_over_a_file_the_actor_may_not_modify_is_refused(
    people: Runtime, session: Session, docs: Node
) -> None:
    """Rule 6: only the creator (or a manager) modifies; walter's submit stores nothing."""
    theirs = put_file(drive_as(people, session, "olivia"), docs, "plan.txt", b"olivia's")
    refused = refusal_of(drive_as(people, session, "walter"), docs,
                         named(("new.txt", b"new"), ("plan.txt", b"walter's")))
    assert [name for name, _ in refused.refusals] == ["plan.txt"]
    assert status_of(refused) == 403
    session.expire_all()
    assert names_in(session, docs) == {"plan.txt"}
    node = session.get(Node, theirs.id)
    assert node is not None and stored_bytes(people, node.blob_sha256 or "", 8) == b"olivia's"


def test_a_name_held_by_a_hidden_item_is_not_available_and_audited(
    people: Runtime, session: Session, docs: Node
) -> None:
    """Rule 4: the same 409 as a reserved name, never an overwrite, audited."""
    private = put_file(drive_as(people, session, "olivia"), docs, "diary.txt", b"secret")
    node_admin.node_set(session, private, visibility="private")
    session.commit()
    refused = refusal_of(drive_as(people, session, "walter"), docs, named(("diary.txt", b"w")))
    assert isinstance(refused.refused[0][1], NameNotAvailable) and status_of(refused) == 409
    assert "not available" in refused.refusals[0][1]
    assert events(session, "name_not_available") == ["/Docs"]
    session.expire_all()
    node = session.get(Node, private.id)
    assert node is not None and stored_bytes(people, node.blob_sha256 or "", 6) == b"secret"


def test_junk_files_are_skipped_and_never_stored(
    people: Runtime, session: Session, docs: Node
) -> None:
    done = drive_as(people, session, "olivia").upload_files(
        docs, named((".DS_Store", b"finder"), ("photo.jpg", b"jpeg"), ("Thumbs.db", b"x")))
    assert done.skipped == [".DS_Store", "Thumbs.db"]
    assert [n.name for n in done.created] == ["photo.jpg"]
    assert names_in(session, docs) == {"photo.jpg"}


# --- failures after the checks -----------------------------------------------------------------


class FailingStream(io.BytesIO):
    """Seeks like a file of ``size`` bytes; reading it fails (a disk error)."""

    def read(self, size: int | None = -1) -> bytes:
        raise OSError("read error")


def test_a_read_error_while_streaming_leaves_nothing(
    people: Runtime, session: Session, docs: Node
) -> None:
    before = store_files(people)
    incoming = [*named(("first.txt", b"first")),
                IncomingFile("second.txt", FailingStream(b"12345"))]
    with pytest.raises(OSError, match="read error"):
        drive_as(people, session, "olivia").upload_files(docs, incoming)
    assert names_in(session, docs) == set()
    assert store_files(people) == before


def test_a_failure_in_the_commit_leaves_no_row_and_no_blob_file(
    people: Runtime, session: Session, docs: Node, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The blobs are durable before the transaction; when it fails, their files are
    removed (nothing refers to them) and no writer stays pending."""
    drive = drive_as(people, session, "olivia")
    real = Drive._write_upload
    calls: list[str] = []

    def second_fails(self: Drive, upload: Any, *args: Any) -> Node:
        calls.append(upload.name)
        if len(calls) == 2:
            raise RuntimeError("database gone")
        return real(self, upload, *args)

    monkeypatch.setattr(Drive, "_write_upload", second_fails)
    before = store_files(people), blob_rows(session)
    with pytest.raises(RuntimeError):
        drive.upload_files(docs, named(("one.txt", b"one"), ("two.txt", b"two")))
    assert calls == ["one.txt", "two.txt"]
    assert names_in(session, docs) == set()
    assert (store_files(people), blob_rows(session)) == before
    assert people.blobs._pending == {}


# --- memory -------------------------------------------------------------------------------------


def test_large_files_stream_in_bounded_memory(
    people: Runtime, session: Session, docs: Node, tmp_path: Path
) -> None:
    """Two files of 24 MiB: the upload holds a chunk at a time, never a whole file."""
    streams: list[BinaryIO] = []
    for name in ("a.bin", "b.bin"):
        path = tmp_path / name
        with path.open("wb") as f:
            for i in range(24):
                f.write(bytes([i]) * MIB)
        streams.append(path.open("rb"))
    drive = drive_as(people, session, "olivia")
    incoming = [IncomingFile(name, s) for name, s in zip(("a.bin", "b.bin"), streams, strict=True)]
    tracemalloc.start()
    try:
        done = drive.upload_files(docs, incoming)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
        for s in streams:
            s.close()
    assert [n.size for n in done.created] == [24 * MIB, 24 * MIB]
    assert peak < 6 * MIB, f"peak {peak} bytes"
    assert session.scalar(select(func.count()).select_from(BlobInline)) == 0


# --- content kept in the database ----------------------------------------------------------------


class ChangingStream(io.BytesIO):
    """Gives other bytes of the same length once it has been read to its end once."""

    reads = 0

    def read(self, size: int | None = -1) -> bytes:
        data = super().read(size)
        if not data:
            self.reads += 1
        return data.upper() if self.reads >= 1 and data else data


@pytest.mark.parametrize("settings", [{"storage.inline_blob_bytes": 1024}], indirect=True)
def test_small_content_goes_to_the_database_and_must_not_change(
    people: Runtime, session: Session, docs: Node
) -> None:
    """Small content is kept in the database (``storage.inline_blob_bytes``), read again
    at the commit: a stream that changes meanwhile stores nothing."""
    before = store_files(people)
    drive = drive_as(people, session, "olivia")
    done = drive.upload_files(docs, named(("small.txt", b"s" * 1024), ("big.txt", b"b" * 1025)))
    small, big = done.created
    assert session.get(BlobInline, small.blob_sha256) is not None
    assert session.get(BlobInline, big.blob_sha256) is None
    assert stored_bytes(people, small.blob_sha256 or "", 1024) == b"s" * 1024
    assert len(store_files(people)) == len(before) + 1  # only the big one is a file
    with pytest.raises(ChangedMeanwhile):
        drive.upload_files(docs, [IncomingFile("changing.txt", ChangingStream(b"abc"))])
    assert not session.in_transaction(), "the failed transaction is rolled back"
    assert names_in(session, docs) == {"small.txt", "big.txt"}
