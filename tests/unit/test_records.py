"""Back-office records (seed 000): safe stable folder names, search, rename, delete.

Attachments have their own tests (tests/unit/test_attachments.py).
"""

from __future__ import annotations

import io

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from davdrive import accounts, attachments, demo_files, records
from davdrive.attachments import Upload
from davdrive.errors import BadRequest, Forbidden, NotFound
from davdrive.models import Attachment, AuditEvent, Blob, Record
from davdrive.passwords import Passwords
from davdrive.policy import SYSTEM, Actor
from davdrive.runtime import Runtime
from tests.conftest import recorded_statements

PDF = demo_files.pdf_with_text("Jam")

MEMBER = Actor(user_id=None, login="mia", category="member", documents="read")
MEMBERS_READ = Actor(user_id=None, login="rae", category="desk", documents="read",
                     members="read")
OFFICE = Actor(user_id=None, login="olga", category="office", documents="write",
               members="write")
MEMBERS_ADMIN = Actor(user_id=None, login="max", category="secretary", documents="read",
                      members="admin")
DOCS_ADMIN = Actor(user_id=None, login="dora", category="archivist", documents="admin")


def last_event(session: Session) -> AuditEvent:
    event = session.scalars(select(AuditEvent).order_by(AuditEvent.id.desc())).first()
    assert event is not None
    return event


def with_attachments(session: Session, runtime: Runtime, kind: str, name: str,
                     count: int) -> Record:
    record = records.add_record(session, kind, name)
    if count:
        uploads = [Upload(f"file{i}.pdf", io.BytesIO(PDF)) for i in range(count)]
        attachments.attach(session, runtime.blobs, record, uploads)
    return record


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


# --- search ---------------------------------------------------------------------------------


def test_searching_records_is_for_staff_only(session: Session) -> None:
    """Rule: ``policy.is_staff`` (members >= read, or document administrators) searches
    records; anyone else is refused."""
    records.add_record(session, "product", "Jam")
    with pytest.raises(Forbidden):
        records.search_records(session, MEMBER)
    for actor in (MEMBERS_READ, OFFICE, MEMBERS_ADMIN, DOCS_ADMIN, SYSTEM):
        assert records.search_records(session, actor).total == 1


def test_search_text_matches_display_or_folder_name_case_insensitively(
    session: Session,
) -> None:
    """Rule: ``text`` is a case-insensitive substring of the display or folder name;
    ``kind`` keeps one kind (an unknown kind is a BadRequest)."""
    slash = records.add_record(session, "member", "Dupont / Martin")  # folder Dupont _ Martin
    records.add_record(session, "product", "Martin's jam")
    records.add_record(session, "activity", "Choir")
    found = records.search_records(session, OFFICE, text="MARTIN")
    assert {r.name for r in found.records} == {"Dupont / Martin", "Martin's jam"}
    assert records.search_records(session, OFFICE, text="t _ m").records == [slash]
    assert records.search_records(session, OFFICE, "product", text="martin").total == 1
    assert records.search_records(session, OFFICE, "activity").total == 1
    with pytest.raises(BadRequest):
        records.search_records(session, OFFICE, "invoice")


def test_search_takes_percent_and_underscore_literally(session: Session) -> None:
    """Rule: LIKE's wildcards in ``text`` match themselves only."""
    records.add_record(session, "product", "Jam 100% fruit")
    records.add_record(session, "product", "Jam 100 fruit")
    records.add_record(session, "product", "tea_time")
    records.add_record(session, "product", "tea time")
    assert [r.name for r in records.search_records(session, OFFICE, text="0%").records] == [
        "Jam 100% fruit"]
    assert [r.name for r in records.search_records(session, OFFICE, text="a_t").records] == [
        "tea_time"]


def test_search_pages_are_clamped_and_per_page_bounded(session: Session) -> None:
    """Rules: page clamped to [1, pages], pages at least 1, per_page 1 to 200."""
    for name in ("e", "d", "c", "b", "a"):
        records.add_record(session, "activity", name)
    first = records.search_records(session, OFFICE, per_page=2, page=-3)
    assert ([r.name for r in first.records], first.page, first.pages, first.total) == (
        ["a", "b"], 1, 3, 5)
    last = records.search_records(session, OFFICE, per_page=2, page=9)
    assert ([r.name for r in last.records], last.page) == (["e"], 3)
    empty = records.search_records(session, OFFICE, text="nothing like it")
    assert (empty.records, empty.page, empty.pages) == ([], 1, 1)
    for bad in (0, 201):
        with pytest.raises(BadRequest):
            records.search_records(session, OFFICE, per_page=bad)


def test_search_gives_attachment_counts_in_two_statements(
    session: Session, runtime: Runtime
) -> None:
    """Rule: a count and the page (each record's attachment count with it), however
    many records and attachments there are."""
    with_attachments(session, runtime, "product", "Jam", 3)
    with_attachments(session, runtime, "product", "Honey", 0)
    session.add_all(Record(kind="member", name=f"Member {i}", folder_name=f"Member {i}")
                    for i in range(500))
    session.commit()
    with recorded_statements(runtime.engine) as seen:
        page = records.search_records(session, OFFICE, per_page=200)
        counts = {r.name: page.attachment_counts[r.id] for r in page.records}
        names = [r.name for r in page.records]
    assert len(seen) == 2, seen
    assert page.total == 502 and len(page.records) == 200
    assert names[0] == "Member 0" and counts["Member 0"] == 0
    products = records.search_records(session, OFFICE, "product")
    assert {r.name: products.attachment_counts[r.id] for r in products.records} == {
        "Honey": 0, "Jam": 3}


# --- look-ups -------------------------------------------------------------------------------


def test_get_record_by_id(session: Session) -> None:
    """Rule: a record by its id; NotFound for an unknown id."""
    record = records.add_record(session, "activity", "Choir")
    assert records.get_record(session, record.id) is record
    with pytest.raises(NotFound):
        records.get_record(session, record.id + 1000)


# --- rename ---------------------------------------------------------------------------------


def test_rename_changes_the_display_name_only(session: Session) -> None:
    """Rule: renaming keeps the folder name, so links keep working; audited."""
    record = records.add_record(session, "member", "Carol Petit")
    renamed = records.rename_record(session, record, "  Carol Dupont ", actor=OFFICE)
    assert (renamed.name, renamed.folder_name) == ("Carol Dupont", "Carol Petit")
    assert records.record_path(renamed) == "/backoffice/members/Carol Petit"
    event = last_event(session)
    assert (event.action, event.user_login, event.path) == (
        "record.rename", "olga", "/backoffice/members/Carol Petit")
    assert "Carol Dupont" in event.detail


def test_rename_needs_members_write_and_a_valid_name(session: Session) -> None:
    """Rules: as for adding, ``members >= write`` (or document admin) and 1 to 255
    characters; a refusal changes nothing."""
    record = records.add_record(session, "product", "Jam")
    for actor in (MEMBER, MEMBERS_READ):
        with pytest.raises(Forbidden):
            records.rename_record(session, record, "Marmalade", actor=actor)
    for bad in ("", "   ", "x" * 256):
        with pytest.raises(BadRequest):
            records.rename_record(session, record, bad, actor=OFFICE)
    assert record.name == "Jam"
    for actor in (MEMBERS_ADMIN, DOCS_ADMIN):
        assert records.rename_record(session, record, f"Jam by {actor.login}", actor=actor)


# --- delete ---------------------------------------------------------------------------------


def test_delete_needs_members_admin_or_documents_admin(session: Session) -> None:
    """Rule (seed 001): members=write adds and edits records but does not delete them."""
    record = records.add_record(session, "product", "Jam")
    for actor in (MEMBER, MEMBERS_READ, OFFICE):
        with pytest.raises(Forbidden):
            records.delete_record(session, record, actor=actor)
    assert records.get_record(session, record.id) is record
    records.delete_record(session, record, actor=DOCS_ADMIN)
    other = records.add_record(session, "product", "Honey")
    records.delete_record(session, other, actor=MEMBERS_ADMIN)
    assert session.scalar(select(func.count()).select_from(Record)) == 0


def test_delete_removes_the_record_and_its_attachments_and_is_audited(
    session: Session, runtime: Runtime
) -> None:
    """Rule: the record and its attachments go (their content stays in the store);
    the deletion is audited."""
    record = with_attachments(session, runtime, "activity", "Choir", 2)
    kept = with_attachments(session, runtime, "activity", "Band", 1)
    session.commit()
    blobs_before = session.scalar(select(func.count()).select_from(Blob))
    records.delete_record(session, record, actor=MEMBERS_ADMIN)
    session.commit()
    with pytest.raises(NotFound):
        records.find_record(session, "activity", "Choir")
    assert [a.record_id for a in session.scalars(select(Attachment))] == [kept.id]
    assert session.scalar(select(func.count()).select_from(Blob)) == blobs_before
    event = last_event(session)
    assert (event.action, event.user_login, event.path) == (
        "record.delete", "max", "/backoffice/activities/Choir")
