"""Back-office records (seed 000): safe stable folder names, all-or-nothing attach."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from davdrive import accounts, demo_files, records
from davdrive.errors import BadRequest, Forbidden, NotFound
from davdrive.models import Attachment, Blob
from davdrive.passwords import Passwords
from davdrive.policy import Actor
from davdrive.runtime import Runtime

PDF = demo_files.pdf_with_text("Jam")
JPEG = demo_files.JPEG_1X1
HTML = b"<!DOCTYPE html><html><body><script>alert(1)</script></body></html>"


def write(tmp_path: Path, name: str, data: bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


def test_record_names_become_safe_unique_and_stable_folder_names(session: Session) -> None:
    first = records.add_record(session, "member", "Dupont / Martin")
    second = records.add_record(session, "member", "dupont / martin")
    con = records.add_record(session, "product", "CON")
    assert first.folder_name == "Dupont _ Martin"
    assert second.folder_name == "dupont _ martin (2)"
    assert con.folder_name == "_CON"
    records.add_record(session, "member", "Dupont _ Martin")  # would clash with the first
    session.commit()
    assert first.folder_name == "Dupont _ Martin", "an existing folder name never changes"
    assert records.record_path(first) == "/backoffice/members/Dupont _ Martin"
    assert records.find_record(session, "member", "DUPONT _ MARTIN (2)") is second


def test_only_member_records_link_to_accounts(session: Session, fast_passwords: Passwords) -> None:
    accounts.add_user(session, fast_passwords, "carol", category="member")
    member = records.add_record(session, "member", "Carol Petit", "carol")
    assert member.user_id == accounts.get_user(session, "carol").id
    with pytest.raises(BadRequest):
        records.add_record(session, "activity", "Choir", "carol")
    with pytest.raises(NotFound):
        records.add_record(session, "member", "Ghost", "nobody")
    with pytest.raises(BadRequest):
        records.add_record(session, "invoice", "x")


def test_adding_records_needs_members_write(session: Session) -> None:
    reader = Actor(user_id=1, login="r", category="member", members="read", documents="read")
    with pytest.raises(Forbidden):
        records.add_record(session, "product", "Jam", actor=reader)


def test_attach_stores_checked_files_with_safe_names(
    session: Session, runtime: Runtime, tmp_path: Path
) -> None:
    record = records.add_record(session, "product", "Jam")
    files = [write(tmp_path, "label.pdf", PDF), write(tmp_path, "photo.jpg", JPEG)]
    attached = records.attach(session, runtime.blobs, record, files, "shared")
    session.commit()
    assert [(a.file_name, a.content_type, a.visibility) for a in attached] == [
        ("label.pdf", "application/pdf", "shared"), ("photo.jpg", "image/jpeg", "shared")]
    with runtime.blobs.open(attached[1].blob_sha256) as stream:
        assert stream.read() == JPEG
    again = records.attach(session, runtime.blobs, record, [files[0]])
    assert again[0].file_name == "label.pdf (2)" and again[0].visibility == "private"


def test_attach_is_all_or_nothing_when_one_file_is_refused(
    session: Session, runtime: Runtime, tmp_path: Path
) -> None:
    record = records.add_record(session, "member", "Dupont")
    session.commit()
    blobs_before = session.scalar(select(func.count()).select_from(Blob))
    files = [
        write(tmp_path, "card.pdf", PDF),
        write(tmp_path, "invoice.pdf", HTML),  # an HTML page in disguise
    ]
    with pytest.raises(BadRequest) as refused:
        records.attach(session, runtime.blobs, record, files)
    assert "invoice.pdf" in str(refused.value)
    session.rollback()
    assert session.scalar(select(func.count()).select_from(Attachment)) == 0
    assert session.scalar(select(func.count()).select_from(Blob)) == blobs_before
    with pytest.raises(BadRequest):
        records.attach(session, runtime.blobs, record, [tmp_path / "missing.pdf"])
