"""Back-office records (member, product, activity): add, find, search, rename, delete.

A record has a display name and a folder name, chosen once by
``paths.safe_name`` (valid on every client, unique per kind whatever the
case) and never changed afterwards, so links keep working: renaming changes
the display name only. Attachments are in ``davdrive.attachments``.
Adding, renaming and attaching need ``members >= write`` (or document
administration); deleting needs ``members = admin`` or ``documents = admin``
(seed 001); searching is for staff (``policy.is_staff``). Functions validate
everything before changing anything, flush and audit; the caller commits.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete, func, or_, select
from sqlalchemy.orm import Session
from sqlalchemy.sql import ColumnElement

from davdrive.accounts import audit_change, get_user
from davdrive.backoffice import BRANCH, FOLDER_OF_KIND
from davdrive.errors import BadRequest, Conflict, Forbidden, NotFound
from davdrive.models import RECORD_KINDS, Attachment, Record
from davdrive.paging import check_per_page, clamp_page, page_count
from davdrive.paths import name_key, safe_name
from davdrive.policy import SYSTEM, Actor, is_staff

MAX_NAME = 255


def require_members_write(actor: Actor, what: str) -> None:
    """Records belong to the members side (seed 001): ``members >= write`` or document admin."""
    if actor.is_system or actor.members in ("write", "admin") or actor.documents == "admin":
        return
    raise Forbidden(f"Not allowed: {what} needs the members level 'write'.")


def _require_delete(actor: Actor) -> None:
    """Seed 001: ``members = write`` adds and edits records but does not delete them."""
    if actor.is_system or actor.members == "admin" or actor.documents == "admin":
        return
    raise Forbidden("Not allowed: deleting a record needs the members level 'admin'.")


def _check_kind(kind: str) -> str:
    if kind not in RECORD_KINDS:
        raise BadRequest(f"The record kind is one of {', '.join(RECORD_KINDS)}, not {kind!r}.")
    return kind


def _check_name(name: str) -> str:
    """The display name without surrounding spaces, 1 to 255 characters."""
    name = name.strip()
    if not name or len(name) > MAX_NAME:
        raise BadRequest(f"A record name has 1 to {MAX_NAME} characters.")
    return name


def add_record(
    session: Session, kind: str, name: str, user_login: str | None = None, actor: Actor = SYSTEM
) -> Record:
    """A new record; a member record may be linked to a user account."""
    _check_kind(kind)
    require_members_write(actor, "adding a record")
    name = _check_name(name)
    user = get_user(session, user_login) if user_login else None
    if user is not None and kind != "member":
        raise BadRequest("Only member records are linked to a user account.")
    taken = {name_key(n) for n in session.scalars(
        select(Record.folder_name).where(Record.kind == kind))}
    record = Record(kind=kind, name=name, folder_name=safe_name(name, taken),
                    user_id=user.id if user else None)
    session.add(record)
    session.flush()
    audit_change(session, actor, "record.add", path=record_path(record), detail=name)
    return record


def record_path(record: Record) -> str:
    return f"/{BRANCH}/{FOLDER_OF_KIND[record.kind]}/{record.folder_name}"


# --- look-ups --------------------------------------------------------------------------------


def find_record(session: Session, kind: str, name: str) -> Record:
    """The record of ``kind`` named ``name`` (display or folder name, any case)."""
    _check_kind(kind)
    rows = session.scalars(select(Record).where(Record.kind == kind)).all()
    key = name_key(name.strip())
    by_folder = [r for r in rows if name_key(r.folder_name) == key]
    if by_folder:
        return by_folder[0]
    by_name = [r for r in rows if name_key(r.name) == key]
    if len(by_name) > 1:
        raise Conflict(
            f"Several {kind} records are named {name!r}; use the folder name: "
            + ", ".join(r.folder_name for r in by_name)
        )
    if not by_name:
        raise NotFound(f"No {kind} record {name!r}.")
    return by_name[0]


def get_record(session: Session, record_id: int) -> Record:
    """The record of id ``record_id`` (NotFound). No rights are checked: the caller's rule."""
    record = session.get(Record, record_id)
    if record is None:
        raise NotFound(f"No record {record_id}.")
    return record


@dataclass(frozen=True)
class RecordPage:
    """One page of a record search: ``total`` matches in all, this being ``page`` of
    ``pages``; ``attachment_counts`` maps each record's id to its number of attachments."""

    records: list[Record]
    total: int
    page: int
    per_page: int
    attachment_counts: dict[int, int]

    @property
    def pages(self) -> int:
        return page_count(self.total, self.per_page)


def search_records(
    session: Session, actor: Actor, kind: str | None = None, text: str = "",
    page: int = 1, per_page: int = 50,
) -> RecordPage:
    """One page of records by kind, then display name; staff only (``policy.is_staff``).

    ``text`` is a case-insensitive substring of the display or folder name
    (``%`` and ``_`` match themselves); an unknown ``kind`` is a BadRequest.
    ``page`` is clamped to [1, pages]; ``per_page`` is 1 to 200 (else
    BadRequest). Two statements: the count, then the page with its counts.
    """
    if not is_staff(actor):
        raise Forbidden("Searching records needs the members level 'read' or more.")
    check_per_page(per_page)
    where: list[ColumnElement[bool]] = []
    if kind is not None:
        where.append(Record.kind == _check_kind(kind))
    if text:
        where.append(or_(Record.name.icontains(text, autoescape=True),
                         Record.folder_name.icontains(text, autoescape=True)))
    total = session.scalar(select(func.count()).select_from(Record).where(*where)) or 0
    page = clamp_page(page, total, per_page)
    attached = (select(func.count(Attachment.id)).where(Attachment.record_id == Record.id)
                .correlate(Record).scalar_subquery())
    rows = session.execute(
        select(Record, attached).where(*where)
        .order_by(Record.kind, func.lower(Record.name), Record.id)
        .limit(per_page).offset((page - 1) * per_page)
    ).all()
    return RecordPage([r for r, _ in rows], total, page, per_page, {r.id: n for r, n in rows})


def record_summary(record: Record, attachments: int) -> dict[str, Any]:
    """A JSON-ready description of a record with stable keys."""
    return {
        "id": record.id, "kind": record.kind, "name": record.name,
        "folder_name": record.folder_name, "path": record_path(record),
        "linked_user_id": record.user_id, "attachments": attachments,
    }


# --- changes ---------------------------------------------------------------------------------


def rename_record(session: Session, record: Record, name: str, actor: Actor = SYSTEM) -> Record:
    """Give ``record`` a new display name (checked as by ``add_record``); members write.

    The folder name stays, so the record's path, and every link to it or to its
    attachments, keeps working.
    """
    require_members_write(actor, "renaming a record")
    name = _check_name(name)
    old, record.name = record.name, name
    session.flush()
    audit_change(session, actor, "record.rename", path=record_path(record),
                 detail=f"{old} -> {name}")
    return record


def delete_record(session: Session, record: Record, actor: Actor = SYSTEM) -> None:
    """Delete ``record`` and its attachments; needs ``members = admin`` or ``documents = admin``.

    The attachments' content stays in the blob store (other rows may share it).
    """
    _require_delete(actor)
    path = record_path(record)
    count = session.scalar(
        select(func.count()).select_from(Attachment).where(Attachment.record_id == record.id))
    session.execute(delete(Attachment).where(Attachment.record_id == record.id))
    session.delete(record)
    session.flush()
    audit_change(session, actor, "record.delete", path=path,
                 detail=f"{record.name} ({count} attachment(s))")
