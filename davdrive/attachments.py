"""Attachments of back-office records: attach, list, get, detach, visibility, open.

Attachments are stored in the blob store; their type is checked on the
content (``davdrive.filetypes``). Attaching several files is all or nothing:
every file is checked before anything is stored, and ``AttachmentsRefused``
names every refused file with its reason. Changes need ``members >= write``
(or document administration); opening follows rule 10
(``policy.decide_record``), and what the actor may not see is NotFound, as if
it did not exist. Functions validate everything before changing anything,
flush and audit; the caller commits.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import BinaryIO

from sqlalchemy import select
from sqlalchemy.orm import Session

from davdrive import filetypes, inline_blobs
from davdrive.accounts import audit_change
from davdrive.blob_backend import BlobBackend, BlobWriting
from davdrive.conflicts import ensure_blob_row
from davdrive.errors import AttachmentsRefused, BadRequest, NotFound
from davdrive.incoming import CHUNK, IncomingFile
from davdrive.models import VISIBILITIES, Attachment, Record
from davdrive.paths import name_key, safe_name
from davdrive.policy import SYSTEM, Action, Actor, RecordFacts, decide_record
from davdrive.records import record_path, require_members_write
from davdrive.write_lock import take_write_lock

Upload = IncomingFile  # a file to attach


@contextmanager
def open_uploads(paths: Sequence[Path]) -> Iterator[list[Upload]]:
    """The files at ``paths`` as uploads, open for the block and closed after it.

    Every path that is not a readable file is named at once (``AttachmentsRefused``),
    and then none is left open.
    """
    with ExitStack() as stack:
        uploads: list[Upload] = []
        refusals: list[tuple[str, str]] = []
        for path in paths:
            try:
                if not path.is_file():
                    missing = not path.exists()
                    raise OSError("no such file" if missing else "not a regular file")
                uploads.append(Upload(path.name, stack.enter_context(path.open("rb"))))
            except OSError as exc:
                reason = exc.strerror or str(exc)
                refusals.append((path.name, f"{path.name!r} is not a readable file ({reason})."))
        if refusals:
            raise AttachmentsRefused(refusals, len(paths))
        yield uploads


def attach(
    session: Session,
    blobs: BlobBackend,
    record: Record,
    uploads: Sequence[Upload],
    visibility: str = "private",
    actor: Actor = SYSTEM,
    allowed: frozenset[str] | None = None,
) -> list[Attachment]:
    """Attach ``uploads`` to ``record``: every one is checked first, then all are stored.

    Refused files (type, content, unreadable) raise ``AttachmentsRefused``, naming
    each with its reason, and nothing is stored: no row, no blob file. An empty
    list, or a visibility other than shared or private, is a BadRequest. Names are
    made safe and unique within the record. ``allowed`` is the set of allowed type
    keys (default: every known type).
    """
    if allowed is None:
        allowed = filetypes.DEFAULT_ALLOWED
    require_members_write(actor, "attaching files")
    _check_visibility(visibility)
    if not uploads:
        raise BadRequest("Give at least one file to attach.")
    taken = {name_key(n) for n in session.scalars(
        select(Attachment.file_name).where(Attachment.record_id == record.id))}
    planned: list[tuple[Upload, str, str]] = []
    refusals: list[tuple[str, str]] = []
    for upload in uploads:
        try:
            found = filetypes.check_attachment(upload.stream, upload.name, allowed)
        except filetypes.FileTypeRefused as refused:
            refusals.append((upload.name, refused.message))
            continue
        except OSError as exc:
            refusals.append((upload.name, f"{upload.name!r} could not be read: {exc}."))
            continue
        name = safe_name(upload.name, taken, fallback="attachment")
        taken.add(name_key(name))
        planned.append((upload, name, found.content_type))
    if refusals:
        raise AttachmentsRefused(refusals, len(uploads))
    attached = []
    writers: list[BlobWriting] = []
    try:
        for upload, name, content_type in planned:
            writer = _store(blobs, upload.stream)
            writers.append(writer)
            info = writer.finish()
            ensure_blob_row(session, info)  # inserted at once: before the attachment row
            attachment = Attachment(
                record_id=record.id, file_name=name, blob_sha256=info.sha256, size=info.size,
                visibility=visibility, uploaded_by=actor.user_id, content_type=content_type,
            )
            session.add(attachment)
            attached.append(attachment)
        session.flush()
        # The write lock a garbage collection takes, held until the caller commits: a
        # blob it removed since its writer finished is put back first (blobs.py).
        take_write_lock(session, "drive")
        for writer in writers:
            writer.ensure_placed()
    finally:
        for writer in writers:
            writer.settle(False, lambda _: True)
    audit_change(session, actor, "record.attach", path=record_path(record),
                 detail=", ".join(a.file_name for a in attached))
    return attached


def _store(blobs: BlobBackend, stream: BinaryIO) -> BlobWriting:
    """A writer holding ``stream``'s content, not finished yet (aborted on an error)."""
    writer = blobs.writer()
    try:
        stream.seek(0)
        while chunk := stream.read(CHUNK):
            writer.write(chunk)
        return writer
    except BaseException:
        writer.abort()
        raise


def _check_visibility(visibility: str) -> str:
    if visibility not in VISIBILITIES:
        raise BadRequest("The visibility is 'shared' or 'private'.")
    return visibility


# --- look-ups --------------------------------------------------------------------------------


def list_attachments(session: Session, record: Record) -> list[Attachment]:
    """``record``'s attachments by file name. No rights are checked: the caller's rule."""
    return list(session.scalars(
        select(Attachment).where(Attachment.record_id == record.id)
        .order_by(Attachment.file_name)))


def get_attachment(session: Session, record: Record, attachment_id: int) -> Attachment:
    """The attachment ``attachment_id`` of ``record``; NotFound when ``record`` has none
    of that id. No rights are checked: the caller's rule."""
    attachment = session.get(Attachment, attachment_id)
    if attachment is None or attachment.record_id != record.id:
        raise NotFound(f"No attachment {attachment_id} in this record.")
    return attachment


def find_attachment(session: Session, record: Record, file_name: str) -> Attachment:
    """The attachment of ``record`` named ``file_name`` (any case), else NotFound."""
    key = name_key(file_name.strip())
    for attachment in list_attachments(session, record):
        if name_key(attachment.file_name) == key:
            return attachment
    raise NotFound(f"No attachment {file_name!r} in this record.")


def _path(session: Session, attachment: Attachment) -> str:
    record = session.get(Record, attachment.record_id)
    return f"{record_path(record)}/{attachment.file_name}" if record else attachment.file_name


# --- changes ---------------------------------------------------------------------------------


def detach(session: Session, attachment: Attachment, actor: Actor = SYSTEM) -> None:
    """Remove ``attachment`` from its record; needs ``members >= write``.

    Its content stays in the blob store (other rows may share it).
    """
    require_members_write(actor, "detaching files")
    path = _path(session, attachment)
    session.delete(attachment)
    session.flush()
    audit_change(session, actor, "record.detach", path=path)


def set_attachment_visibility(
    session: Session, attachment: Attachment, visibility: str, actor: Actor = SYSTEM
) -> Attachment:
    """Make ``attachment`` shared or private (else BadRequest); needs ``members >= write``."""
    require_members_write(actor, "changing an attachment's visibility")
    attachment.visibility = _check_visibility(visibility)
    session.flush()
    audit_change(session, actor, "record.visibility", path=_path(session, attachment),
                 detail=visibility)
    return attachment


# --- reading ---------------------------------------------------------------------------------


def open_attachment(
    session: Session, blobs: BlobBackend, attachment: Attachment, actor: Actor
) -> tuple[BinaryIO, Attachment]:
    """The content of ``attachment`` as a seekable stream (the caller closes it), with
    the attachment.

    Allowed when rule 10 lets ``actor`` read it (``policy.decide_record``); else
    NotFound, as for a missing attachment. The content is read wherever the drive
    keeps it (``inline_blobs.open_blob``; FileNotFoundError when it is lost).
    """
    record = session.get(Record, attachment.record_id)
    if record is None or not decide_record(actor, Action.READ, RecordFacts(
        kind=record.kind, linked_user_id=record.user_id,
        attachment_visibility=attachment.visibility,
    )):
        raise NotFound("No such attachment.")
    return inline_blobs.open_blob(session, blobs, attachment.blob_sha256), attachment
