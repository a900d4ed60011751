"""A new small file stored with Core statements: one transaction, one commit.

For the plain PUT fast path (``provider.fast_put``, docs/durable-writes.md). The
common PUT creates a new name in a folder the actor may write to, with content
small enough to be kept in the database (``davdrive.inline_blobs``). ``plan``
decides that case from the rows of one Core walk; anything else (the name held,
seen or not, a parent hidden or missing, a refusal, a quota to count) gets
``None`` and goes the general way (``Drive.begin_upload``/``finish_upload``),
which answers it as before.

``commit`` then does what ``finish_upload`` does for that case, with the same
rules and in the same order: the write lock, one re-read of what the write
depends on (the folder chain still live where the walk found it, the name
still free), the blob row, its bytes, the file's row and the audit event, in
one transaction whose single commit (one fsync) makes the 201 durable. When
the re-read shows a change (a race), it rolls back and returns False: the
caller then runs ``finish_upload``, which decides the race as it always has.
"""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from sqlalchemy import Connection, bindparam, select, union_all
from sqlalchemy.exc import IntegrityError

from davdrive import audit, inline_blobs
from davdrive.blob_backend import BlobInfo
from davdrive.conflicts import Placement, ensure_blob_row
from davdrive.drive_base import RESERVED_ROOT_KEYS, DriveBase, guess_content_type
from davdrive.errors import DriveError
from davdrive.models import Base, Node
from davdrive.paths import join, name_key, reserved_key, validate_name
from davdrive.policy import Action, decide
from davdrive.prepared import Prepared, PreparedInsert
from davdrive.write_lock import take_write_lock_on


@dataclass(frozen=True)
class NewFile:
    """A PUT that creates ``name`` in the folder ``parent`` (a node row)."""

    parent: Any
    name: str
    path: str  # as stored: the folders' own names, for the audit event
    placement: Placement  # the folder chain as the walk read it (root first)


def plan(drive: DriveBase, rows: list[Any], parts: list[str], size: int) -> NewFile | None:
    """The new file a PUT of ``size`` bytes at ``parts`` makes, decided on the walk's
    ``rows`` (``tree.walk_rows``) by the rules of ``check_create``; None when it is
    not that plain case. No SQL: the rights come from the process's cache.

    The walk finds any live node holding the name's key, seen or not, so a
    complete chain up to the parent proves the name free (as ``_refuse_taken``
    would find it). Pass-through folders are not computed: a folder the actor
    does not see makes it None, and the general way decides."""
    options = drive.options
    if (
        len(rows) != len(parts)
        or size > options.inline_blob_bytes
        or options.quota.drive_bytes
        or options.quota.for_category(drive.actor.category)
    ):
        return None
    views = rows  # they carry ``is_folder``: the rules read them as nodes
    facts = drive.facts.chain(views, with_leads=False)
    parent = views[-1]
    # CREATE is allowed only in a folder the actor sees itself (not a pass-through
    # one), and every folder above a seen one is seen (visible, or pass-through as
    # it leads to that one): the whole path is seen, as ``chain`` would find it.
    if not (parent.is_folder and decide(drive.actor, Action.CREATE, facts[-1])):
        return None
    name = parts[-1]
    if parent.parent_id is None and reserved_key(name) in RESERVED_ROOT_KEYS:
        return None
    try:
        if validate_name(name, windows=options.windows_names) != name:
            return None
    except DriveError:
        return None
    path = join([v.name for v in views[1:]] + [name])
    placement = [(v.id, v.parent_id, v.name_key) for v in views]
    return NewFile(parent, name, path, placement)


def commit(conn: Connection, drive: DriveBase, new: NewFile, data: bytes) -> str | None:
    """Store ``data`` as the new file, committed on ``conn`` (alone); its ETag (the
    sha256), or None, with nothing stored, when the folder chain or the name changed
    since the walk (or the database refused the row): the caller then takes the
    general way."""
    try:
        take_write_lock_on(conn, "drive")
        etag = store(conn, drive, new, data)
    except IntegrityError:
        conn.rollback()
        return None
    if etag is None:
        conn.rollback()
        return None
    conn.commit()
    return etag


def store(conn: Connection, drive: DriveBase, new: NewFile, data: bytes) -> str | None:
    """``commit`` without the commit, in ``conn``'s transaction, which holds the write
    lock: the re-read first, and nothing written when it returns None (so that the
    transaction may go on with other work: ``davdrive.group_commit``)."""
    parent = new.parent
    key = name_key(new.name)
    ids = [node_id for node_id, _, _ in new.placement]
    params = {f"id{n}": node_id for n, node_id in enumerate(ids)}
    rows = _placed_or_holder(len(ids)).rows(conn, {**params, "folder": parent.id, "key": key})
    now = {row[0]: (row[0], row[1], row[2]) for row in rows}
    held = any(row[1] == parent.id and row[2] == key for row in rows)
    if held or any(now.get(entry[0]) != entry for entry in new.placement):
        return None
    info = BlobInfo(hashlib.sha256(data).hexdigest(), None, None, len(data))
    ensure_blob_row(conn, info)
    inline_blobs.store(conn, info, data)
    _NEW_NODE.run(conn, {
        "parent_id": parent.id, "name": new.name, "name_key": key, "kind": "file",
        "owner_id": drive.actor.user_id, "doc_type": None,  # inherits the folder's
        "visibility": "private" if parent.new_files_private else "shared",
        "mtime": time.time(), "blob_sha256": info.sha256, "size": info.size,
        "content_type": guess_content_type(new.name),
    })
    audit.append(
        conn, user=drive.actor.login, ip=drive.ip, action="create", path=new.path,
        detail=f"{info.size} bytes sha256={info.sha256}",
    )
    return info.sha256


@lru_cache(maxsize=64)
def _placed_or_holder(count: int) -> Prepared:
    """One re-read under the write lock, for a chain of ``count`` folders (ids id0,
    id1...), built once per length: the folders of the chain still live (their id,
    parent and name key), and any live node holding the new name's key; two index
    searches (primary key, then the live-name index), whatever the drive's size."""
    ids: list[Any] = [bindparam(f"id{n}") for n in range(count)]
    return Prepared(union_all(
        select(Node.id, Node.parent_id, Node.name_key, Node.kind).where(
            Node.id.in_(ids), Node.deleted_at.is_(None)
        ),
        select(Node.id, Node.parent_id, Node.name_key, Node.kind).where(
            Node.parent_id == bindparam("folder"), Node.name_key == bindparam("key"),
            Node.deleted_at.is_(None),
        ),
    ))


_NEW_NODE = PreparedInsert(Base.metadata.tables["node"])
