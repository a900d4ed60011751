"""Back-office records (member, product, activity) and their attachments.

A record has a display name and a folder name, chosen once by
``paths.safe_name`` (valid on every client, unique per kind whatever the
case) and never changed afterwards, so links keep working. Attachments are
stored in the blob store; their type is checked on the content
(``davdrive.filetypes``). Attaching several files is all or nothing: every
file is checked before anything is stored. Functions flush and audit; the
caller commits.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from davdrive import filetypes
from davdrive.accounts import audit_change, get_user
from davdrive.backoffice import BRANCH, FOLDER_OF_KIND
from davdrive.blobs import BlobInfo, BlobStore
from davdrive.conflicts import ensure_blob_row
from davdrive.errors import BadRequest, Conflict, Forbidden, NotFound
from davdrive.models import RECORD_KINDS, VISIBILITIES, Attachment, Record
from davdrive.paths import name_key, safe_name
from davdrive.policy import SYSTEM, Actor

CHUNK = 1024 * 1024


def _require_members_write(actor: Actor, what: str) -> None:
    """Records belong to the members side (seed 001): ``members >= write`` or admin."""
    if actor.is_system or actor.members in ("write", "admin") or actor.documents == "admin":
        return
    raise Forbidden(f"Not allowed: {what} needs the members level 'write'.")


def _check_kind(kind: str) -> str:
    if kind not in RECORD_KINDS:
        raise BadRequest(f"The record kind is one of {', '.join(RECORD_KINDS)}, not {kind!r}.")
    return kind


def add_record(
    session: Session, kind: str, name: str, user_login: str | None = None, actor: Actor = SYSTEM
) -> Record:
    """A new record; a member record may be linked to a user account."""
    _check_kind(kind)
    _require_members_write(actor, "adding a record")
    name = name.strip()
    if not name or len(name) > 255:
        raise BadRequest("A record name has 1 to 255 characters.")
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


def attach(
    session: Session,
    blobs: BlobStore,
    record: Record,
    files: Sequence[Path],
    visibility: str = "private",
    actor: Actor = SYSTEM,
    allowed: frozenset[str] | None = None,
) -> list[Attachment]:
    """Attach ``files`` to ``record``: every one is checked first, then all are stored.

    A refused file (type, unreadable, name taken) refuses the whole call and
    stores nothing. Names are made safe and unique within the record.
    ``allowed`` is the set of allowed type keys (default: every known type).
    """
    if allowed is None:
        allowed = filetypes.DEFAULT_ALLOWED
    _require_members_write(actor, "attaching files")
    if visibility not in VISIBILITIES:
        raise BadRequest("The visibility is 'shared' or 'private'.")
    if not files:
        raise BadRequest("Give at least one file to attach.")
    taken = {name_key(n) for n in session.scalars(
        select(Attachment.file_name).where(Attachment.record_id == record.id))}
    planned: list[tuple[Path, str, str]] = []
    for path in files:
        if not path.is_file():
            raise BadRequest(f"{str(path)!r} is not a readable file; nothing was attached.")
        content_type = filetypes.check_attachment(path, path.name, allowed).content_type
        name = safe_name(path.name, taken, fallback="attachment")
        taken.add(name_key(name))
        planned.append((path, name, content_type))
    attached = []
    for path, name, content_type in planned:
        info = _store(blobs, path)
        ensure_blob_row(session, info)  # inserted at once: before the attachment row
        attachment = Attachment(
            record_id=record.id, file_name=name, blob_sha256=info.sha256, size=info.size,
            visibility=visibility, uploaded_by=actor.user_id, content_type=content_type,
        )
        session.add(attachment)
        attached.append(attachment)
    session.flush()
    audit_change(session, actor, "record.attach", path=record_path(record),
                 detail=", ".join(a.file_name for a in attached))
    return attached


def _store(blobs: BlobStore, path: Path) -> BlobInfo:
    writer = blobs.writer()
    try:
        with path.open("rb") as source:
            while chunk := source.read(CHUNK):
                writer.write(chunk)
        return writer.finish()
    except BaseException:
        writer.abort()
        raise
