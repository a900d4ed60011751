"""Attachments of back-office records (seed 000): checked all or nothing, listed,
detached, made shared or private, and opened only by those who may see them."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from davdrive import accounts, attachments, demo_files, inline_blobs, records
from davdrive.attachments import Upload
from davdrive.blobs import BlobInfo
from davdrive.errors import AttachmentsRefused, BadRequest, Forbidden, NotFound
from davdrive.models import Attachment, AuditEvent, Blob, Record
from davdrive.passwords import Passwords
from davdrive.policy import SYSTEM, Actor
from davdrive.runtime import Runtime
from davdrive.users import actor_for

PDF = demo_files.pdf_with_text("Jam")
JPEG = demo_files.JPEG_1X1
HTML = b"<!DOCTYPE html><html><body><script>alert(1)</script></body></html>"

MEMBER = Actor(user_id=None, login="mia", category="member", documents="read")
OFFICE = Actor(user_id=None, login="olga", category="office", documents="write",
               members="write")
ADMIN = Actor(user_id=None, login="ada", category="admin", documents="admin", members="admin",
              config=True)


def upload(name: str, data: bytes) -> Upload:
    return Upload(name, io.BytesIO(data))


def blob_files(runtime: Runtime) -> list[Path]:
    """Every file under the blob folder (stored blobs and temp files alike)."""
    return sorted(p for p in runtime.blobs.root.rglob("*") if p.is_file())


def last_event(session: Session) -> AuditEvent:
    event = session.scalars(select(AuditEvent).order_by(AuditEvent.id.desc())).first()
    assert event is not None
    return event


@pytest.fixture
def jam(session: Session) -> Record:
    return records.add_record(session, "product", "Jam")


# --- attach ---------------------------------------------------------------------------------


def test_attach_stores_checked_files_with_safe_names(
    session: Session, runtime: Runtime, jam: Record
) -> None:
    """Rules: each file's type is checked on its content; names are made safe and
    unique within the record; the visibility given (default private) is kept."""
    attached = attachments.attach(
        session, runtime.blobs, jam, [upload("label.pdf", PDF), upload("photo.jpg", JPEG)],
        "shared",
    )
    session.commit()
    assert [(a.file_name, a.content_type, a.visibility) for a in attached] == [
        ("label.pdf", "application/pdf", "shared"), ("photo.jpg", "image/jpeg", "shared")]
    with runtime.blobs.open(attached[1].blob_sha256) as stream:
        assert stream.read() == JPEG
    again = attachments.attach(session, runtime.blobs, jam, [upload("LABEL.pdf", PDF)])
    assert again[0].file_name == "LABEL.pdf (2)" and again[0].visibility == "private"
    event = last_event(session)
    assert (event.action, event.path, event.detail) == (
        "record.attach", "/backoffice/products/Jam", "LABEL.pdf (2)")


def test_attach_stores_each_stream_from_its_start(
    session: Session, runtime: Runtime, jam: Record
) -> None:
    """Rule: a stream already read (a spooled upload) is stored from its first byte."""
    stream = io.BytesIO(PDF)
    stream.read()
    attached = attachments.attach(session, runtime.blobs, jam, [Upload("label.pdf", stream)])
    assert attached[0].size == len(PDF)
    with runtime.blobs.open(attached[0].blob_sha256) as stored:
        assert stored.read() == PDF


def test_attach_is_all_or_nothing_and_names_every_refused_file(
    session: Session, runtime: Runtime, jam: Record
) -> None:
    """Rule: every file is checked before anything is stored; the refusal names each
    refused file with its reason, and no row and no blob file is left behind."""
    session.commit()
    files_before = blob_files(runtime)
    blobs_before = session.scalar(select(func.count()).select_from(Blob))
    uploads = [
        upload("card.pdf", PDF),
        upload("invoice.pdf", HTML),  # an HTML page in disguise
        upload("photo.jpg", PDF),  # a PDF named as a JPEG
    ]
    with pytest.raises(AttachmentsRefused) as refused:
        attachments.attach(session, runtime.blobs, jam, uploads)
    assert isinstance(refused.value, BadRequest)
    assert [name for name, _ in refused.value.refusals] == ["invoice.pdf", "photo.jpg"]
    reasons = dict(refused.value.refusals)
    assert "not an allowed file type" in reasons["invoice.pdf"]
    assert ".jpg" not in reasons["photo.jpg"].split("name it with")[-1]
    assert "'invoice.pdf'" in refused.value.message and "'photo.jpg'" in refused.value.message
    assert "card.pdf" not in refused.value.message
    session.rollback()
    assert session.scalar(select(func.count()).select_from(Attachment)) == 0
    assert session.scalar(select(func.count()).select_from(Blob)) == blobs_before
    assert blob_files(runtime) == files_before


def test_attach_refuses_an_empty_list_a_bad_visibility_and_readers(
    session: Session, runtime: Runtime, jam: Record
) -> None:
    """Rules: at least one file; visibility shared or private; members write needed."""
    with pytest.raises(BadRequest):
        attachments.attach(session, runtime.blobs, jam, [])
    with pytest.raises(BadRequest):
        attachments.attach(session, runtime.blobs, jam, [upload("a.pdf", PDF)], "public")
    with pytest.raises(Forbidden):
        attachments.attach(session, runtime.blobs, jam, [upload("a.pdf", PDF)], actor=MEMBER)
    assert attachments.attach(session, runtime.blobs, jam, [upload("a.pdf", PDF)], actor=OFFICE)


def test_open_uploads_closes_its_files_and_refuses_every_missing_one(tmp_path: Path) -> None:
    """Rules: the files opened for the command line are closed after the block; every
    file that cannot be read is named at once, and none stays open."""
    good = tmp_path / "label.pdf"
    good.write_bytes(PDF)
    with attachments.open_uploads([good]) as uploads:
        assert [u.name for u in uploads] == ["label.pdf"]
        stream = uploads[0].stream
        assert stream.read() == PDF
    assert stream.closed
    with pytest.raises(AttachmentsRefused) as refused, attachments.open_uploads(
        [good, tmp_path / "missing.pdf", tmp_path]
    ):
        pass
    assert [name for name, _ in refused.value.refusals] == ["missing.pdf", tmp_path.name]


# --- list, get, detach, visibility ------------------------------------------------------------


def test_list_and_get_attachments_of_a_record(
    session: Session, runtime: Runtime, jam: Record
) -> None:
    """Rules: a record's attachments by file name; an attachment of another record
    (or none) is NotFound."""
    honey = records.add_record(session, "product", "Honey")
    attachments.attach(session, runtime.blobs, jam, [upload("b.pdf", PDF), upload("a.jpg", JPEG)])
    (other,) = attachments.attach(session, runtime.blobs, honey, [upload("c.pdf", PDF)])
    listed = attachments.list_attachments(session, jam)
    assert [a.file_name for a in listed] == ["a.jpg", "b.pdf"]
    assert attachments.get_attachment(session, jam, listed[0].id) is listed[0]
    with pytest.raises(NotFound):
        attachments.get_attachment(session, jam, other.id)
    with pytest.raises(NotFound):
        attachments.get_attachment(session, jam, other.id + 1000)


def test_detach_needs_members_write_and_is_audited(
    session: Session, runtime: Runtime, jam: Record
) -> None:
    """Rules: ``members >= write`` detaches (a member cannot); audited with the path."""
    (label,) = attachments.attach(session, runtime.blobs, jam, [upload("label.pdf", PDF)])
    with pytest.raises(Forbidden):
        attachments.detach(session, label, actor=MEMBER)
    assert attachments.list_attachments(session, jam) == [label]
    attachments.detach(session, label, actor=OFFICE)
    assert attachments.list_attachments(session, jam) == []
    event = last_event(session)
    assert (event.action, event.user_login, event.path) == (
        "record.detach", "olga", "/backoffice/products/Jam/label.pdf")


def test_set_visibility_needs_members_write_and_shared_or_private(
    session: Session, runtime: Runtime, jam: Record
) -> None:
    """Rules: ``members >= write``; only shared or private (else BadRequest); audited."""
    (label,) = attachments.attach(session, runtime.blobs, jam, [upload("label.pdf", PDF)])
    with pytest.raises(Forbidden):
        attachments.set_attachment_visibility(session, label, "shared", actor=MEMBER)
    for bad in ("public", "", "SHARED"):
        with pytest.raises(BadRequest):
            attachments.set_attachment_visibility(session, label, bad, actor=OFFICE)
    assert label.visibility == "private"
    attachments.set_attachment_visibility(session, label, "shared", actor=OFFICE)
    assert label.visibility == "shared"
    event = last_event(session)
    assert (event.action, event.path, event.detail) == (
        "record.visibility", "/backoffice/products/Jam/label.pdf", "shared")
    attachments.set_attachment_visibility(session, label, "private", actor=ADMIN)
    assert label.visibility == "private"


# --- open -----------------------------------------------------------------------------------


def test_open_attachment_follows_rule_10_and_hides_what_it_refuses(
    session: Session, runtime: Runtime, fast_passwords: Passwords
) -> None:
    """Rule 10: staff open everything; a member opens the shared attachments of their
    own member record only; anything else is NotFound (never "forbidden")."""
    carol_user, _ = accounts.add_user(session, fast_passwords, "carol", category="member")
    dave_user, _ = accounts.add_user(session, fast_passwords, "dave", category="member")
    carol, dave = actor_for(carol_user), actor_for(dave_user)
    record = records.add_record(session, "member", "Carol Petit", "carol")
    (card,) = attachments.attach(session, runtime.blobs, record, [upload("card.pdf", PDF)],
                                 "shared")
    (notes,) = attachments.attach(session, runtime.blobs, record, [upload("notes.jpg", JPEG)])
    stream, opened = attachments.open_attachment(session, runtime.blobs, card, carol)
    with stream:
        assert stream.read() == PDF and opened is card
    with pytest.raises(NotFound) as hidden:
        attachments.open_attachment(session, runtime.blobs, notes, carol)
    assert "notes.jpg" not in hidden.value.message
    with pytest.raises(NotFound):
        attachments.open_attachment(session, runtime.blobs, card, dave)
    for staff in (OFFICE, ADMIN, SYSTEM):
        stream, _ = attachments.open_attachment(session, runtime.blobs, notes, staff)
        with stream:
            assert stream.read() == JPEG


def test_open_attachment_reads_content_kept_in_the_database(
    session: Session, runtime: Runtime, jam: Record
) -> None:
    """Rule: the content is read wherever the drive keeps it (file or database)."""
    (label,) = attachments.attach(session, runtime.blobs, jam, [upload("label.pdf", PDF)],
                                  "shared")
    session.commit()
    path = runtime.blobs.path(label.blob_sha256)
    inline_blobs.store(session, BlobInfo(label.blob_sha256, None, None, len(PDF)), PDF)
    session.commit()
    path.unlink()
    stream, _ = attachments.open_attachment(session, runtime.blobs, label, OFFICE)
    with stream:
        assert stream.read() == PDF
