"""Concurrent writes: the database's word on a race, read in one place.

Two requests may create the same name, store the same new content or move the
same item at once. Each check the core makes before writing can be overtaken
by another transaction; the database then has the last word:

- ``ensure_blob_row`` inserts a blob row or leaves the one another request
  inserted (``INSERT ... ON CONFLICT DO NOTHING``): identical content stored at
  once is not a conflict at all.
- ``is_name_clash`` tells a lost name race (the unique index on live names)
  from any other integrity error.
- ``still_placed`` re-reads a folder chain; callers first take the write lock
  (``davdrive.write_lock``), so what they then read cannot change until they
  commit.
- ``claim`` re-reads an item under a write: it fails when another request
  moved or trashed the item since it was read.

``DriveBase.conflict_error`` (drive_base.py) turns these into domain errors;
``provider/errors.py`` turns those into WebDAV answers.
"""

from __future__ import annotations

from sqlalchemy import Connection, bindparam, func, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import CursorResult
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from davdrive.blob_backend import BlobInfo
from davdrive.models import Base, Blob, Node, utcnow
from davdrive.prepared import PreparedInsert

NAME_INDEX = "uq_node_live_name"
# How SQLite names the same index in its message (it gives columns, not the name).
_SQLITE_NAME_CLASH = "node.parent_id, node.name_key"


def ensure_blob_row(session: Session | Connection, info: BlobInfo) -> None:
    """The row for a stored blob, inserted unless it is already there (raced or not):
    one statement either way. Checksums the upload computed (sha1/md5 are None
    unless asked for) fill those the existing row lacks; none is ever replaced."""
    values = {"sha256": info.sha256, "sha1": info.sha1, "md5": info.md5, "size": info.size,
              "created_at": utcnow()}
    bind = session.get_bind() if isinstance(session, Session) else session
    postgres = bind.dialect.name == "postgresql"
    if info.sha1 is None and info.md5 is None:
        if isinstance(session, Connection):
            _NEW_BLOB_PREPARED["postgresql" if postgres else "sqlite"].run(session, values)
        else:
            session.execute(_PG_NEW_BLOB if postgres else _SQLITE_NEW_BLOB, values)
        return
    insert = (postgresql.insert if postgres else sqlite.insert)(Blob).values(**values)
    given = {name: func.coalesce(getattr(Blob, name), getattr(insert.excluded, name))
             for name in ("sha1", "md5")}
    session.execute(insert.on_conflict_do_update(index_elements=[Blob.sha256], set_=given))


# Built once (the statement cache then skips building and compiling them per request).
_SQLITE_NEW_BLOB = sqlite.insert(Base.metadata.tables["blob"]).on_conflict_do_nothing()
_PG_NEW_BLOB = postgresql.insert(Base.metadata.tables["blob"]).on_conflict_do_nothing()
# The same, compiled once per dialect, for Core connections (the small PUT's commit).
_NEW_BLOB_PREPARED = {
    "sqlite": PreparedInsert(
        Base.metadata.tables["blob"], lambda t: sqlite.insert(t).on_conflict_do_nothing()
    ),
    "postgresql": PreparedInsert(
        Base.metadata.tables["blob"], lambda t: postgresql.insert(t).on_conflict_do_nothing()
    ),
}


def is_name_clash(exc: IntegrityError) -> bool:
    """True when ``exc`` is the unique index on (parent, live name) refusing a row."""
    text = str(exc.orig)
    return NAME_INDEX in text or _SQLITE_NAME_CLASH in text


def claim(session: Session, node: Node) -> bool:
    """Write-lock ``node`` as this transaction read it: False when another request has
    since moved, renamed or trashed it (nothing is changed then)."""
    result = session.execute(
        update(Node)
        .where(
            Node.id == node.id,
            Node.parent_id.is_(None) if node.parent_id is None
            else Node.parent_id == node.parent_id,
            Node.name_key == node.name_key,
            Node.deleted_at.is_(None),
        )
        .values(updated_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    assert isinstance(result, CursorResult)
    return result.rowcount == 1


# (id, parent id, name key) of a folder and each of its ancestors, as a request read them.
Placement = list[tuple[int, int | None, str]]


def placement_of(chain: list[Node]) -> Placement:
    """The placement of a folder given as its ancestors chain (root first), as read."""
    return [(n.id, n.parent_id, n.name_key) for n in chain]


def still_placed(session: Session, placement: Placement) -> bool:
    """True when every folder of ``placement`` is still live where it was (one query)."""
    ids = [node_id for node_id, _, _ in placement]
    rows = session.execute(_PLACED, {"ids": ids}).all()
    now = {row[0]: (row[0], row[1], row[2]) for row in rows}
    return all(now.get(entry[0]) == entry for entry in placement)


_PLACED = select(Node.id, Node.parent_id, Node.name_key).where(
    Node.id.in_(bindparam("ids", expanding=True)), Node.deleted_at.is_(None)
)
