"""How much the drive stores, and where: live files, the trash, versions, blobs.

``storage_usage(session)`` gives counts and bytes as the rows hold them (no
file is read; six aggregate queries). Live files are what quotas count
(``davdrive.quota``); the trash and the versions are the safety net that
``storage.trash_days`` and ``storage.versions`` bound. Content is stored once
per sha256 whatever the number of files using it, so ``blobs`` (what the
store holds) is usually less than the sum of the others; of it, ``inline`` is
kept in the database (``davdrive.inline_blobs``).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from davdrive.models import Blob, BlobInline, Node, NodeVersion


@dataclass(frozen=True)
class Figures:
    count: int
    bytes: int


@dataclass(frozen=True)
class StorageUsage:
    live_files: Figures  # files of the live tree, their current content
    trash_files: Figures  # files in the trash (with their folders' files)
    trash_items: int  # files and folders in the trash
    versions: Figures  # previous versions kept, of live and trashed files
    blobs: Figures  # distinct contents stored (each once, however many use it)
    inline: Figures  # of those, the ones kept in the database

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _figures(session: Session, count: Any, size: Any, *where: Any) -> Figures:
    row = session.execute(select(func.count(count), func.coalesce(func.sum(size), 0))
                          .where(*where)).one()
    return Figures(int(row[0]), int(row[1]))


def storage_usage(session: Session) -> StorageUsage:
    """The drive's storage figures (see the module docstring)."""
    is_file = Node.kind == "file"
    return StorageUsage(
        live_files=_figures(session, Node.id, Node.size, is_file, Node.deleted_at.is_(None)),
        trash_files=_figures(session, Node.id, Node.size, is_file,
                             Node.deleted_at.is_not(None)),
        trash_items=int(session.scalar(
            select(func.count(Node.id)).where(Node.deleted_at.is_not(None))) or 0),
        versions=_figures(session, NodeVersion.id, NodeVersion.size),
        blobs=_figures(session, Blob.sha256, Blob.size),
        inline=_figures(session, BlobInline.sha256, func.length(BlobInline.data)),
    )
