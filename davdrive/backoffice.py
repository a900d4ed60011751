"""The back-office branch as one actor sees it (DESIGN 3 rule 10, seed 000).

``/backoffice/{members,products,activities}/<record folder>/<attachment>``
is virtual: it is built from records and attachments, never from drive
nodes, and it is read-only over WebDAV. Each listing is one query; every
decision is asked of ``policy.decide_record``. What the actor may not see
is absent, exactly like a missing path.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import exists, select
from sqlalchemy.orm import Session

from davdrive.models import Attachment, Record
from davdrive.paths import name_key
from davdrive.policy import Action, Actor, RecordFacts, decide_record, is_staff

BRANCH = "backoffice"
KIND_FOLDERS = {"members": "member", "products": "product", "activities": "activity"}
FOLDER_OF_KIND = {kind: folder for folder, kind in KIND_FOLDERS.items()}


@dataclass(frozen=True)
class Entry:
    """One visible item of the branch: a folder (record is None for the branch
    and kind folders) or an attachment."""

    parts: tuple[str, ...]
    record: Record | None = None
    attachment: Attachment | None = None

    @property
    def is_folder(self) -> bool:
        return self.attachment is None

    @property
    def name(self) -> str:
        return self.parts[-1] if self.parts else BRANCH


class Backoffice:
    """Read access to the branch for ``actor`` within ``session``."""

    def __init__(self, session: Session, actor: Actor) -> None:
        self.session = session
        self.actor = actor

    # --- decisions ------------------------------------------------------------

    def _facts(self, record: Record, attachment: Attachment | None = None) -> RecordFacts:
        has_shared = attachment is None and self.session.scalar(
            select(exists().where(Attachment.record_id == record.id,
                                  Attachment.visibility == "shared"))
        )
        return RecordFacts(
            kind=record.kind,
            linked_user_id=record.user_id,
            attachment_visibility=attachment.visibility if attachment else None,
            has_shared=bool(has_shared),
        )

    def sees(self, record: Record, attachment: Attachment | None = None) -> bool:
        return decide_record(self.actor, Action.SEE, self._facts(record, attachment)).allowed

    # --- listing --------------------------------------------------------------

    def records(self, kind: str) -> list[Record]:
        """The records of ``kind`` the actor sees, by folder name (one query)."""
        query = select(Record).where(Record.kind == kind).order_by(Record.folder_name)
        if not is_staff(self.actor):
            if kind == "member":
                query = query.where(Record.user_id == self.actor.user_id)
            else:
                query = query.where(exists().where(
                    Attachment.record_id == Record.id, Attachment.visibility == "shared"))
        rows = self.session.scalars(query).all()
        return [r for r in rows if self._decide_listed(r)]

    def _decide_listed(self, record: Record) -> bool:
        # The query above kept, for non-staff, only records with a shared attachment
        # (products, activities) or linked to the actor (members).
        facts = RecordFacts(kind=record.kind, linked_user_id=record.user_id, has_shared=True)
        return decide_record(self.actor, Action.SEE, facts).allowed

    def attachments(self, record: Record) -> list[Attachment]:
        rows = self.session.scalars(
            select(Attachment).where(Attachment.record_id == record.id)
            .order_by(Attachment.file_name)
        ).all()
        return [a for a in rows if self.sees(record, a)]

    def kinds(self) -> list[str]:
        """Kind folders shown: all to staff, else those holding something visible."""
        return [folder for folder, kind in KIND_FOLDERS.items()
                if is_staff(self.actor) or self.records(kind)]

    # --- resolution -----------------------------------------------------------

    def resolve(self, parts: list[str]) -> Entry | None:
        """The entry at ``parts`` below the branch (``[]`` is the branch), or None."""
        if not parts:
            return Entry(()) if self.kinds() else None
        kind = KIND_FOLDERS.get(name_key(parts[0]))
        if kind is None or FOLDER_OF_KIND[kind] not in self.kinds():
            return None
        folder = FOLDER_OF_KIND[kind]
        if len(parts) == 1:
            return Entry((folder,))
        key = name_key(parts[1])
        record = next((r for r in self.records(kind) if name_key(r.folder_name) == key), None)
        if record is None:
            return None
        if len(parts) == 2:
            return Entry((folder, record.folder_name), record)
        if len(parts) > 3:
            return None
        key = name_key(parts[2])
        attachment = next(
            (a for a in self.attachments(record) if name_key(a.file_name) == key), None
        )
        if attachment is None:
            return None
        return Entry((folder, record.folder_name, attachment.file_name), record, attachment)

    def children(self, entry: Entry) -> list[Entry]:
        if not entry.parts:
            return [Entry((folder,)) for folder in self.kinds()]
        if len(entry.parts) == 1:
            kind = KIND_FOLDERS[entry.parts[0]]
            return [Entry((entry.parts[0], r.folder_name), r) for r in self.records(kind)]
        if entry.record is not None and entry.attachment is None:
            return [Entry((*entry.parts, a.file_name), entry.record, a)
                    for a in self.attachments(entry.record)]
        return []
