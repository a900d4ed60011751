"""The trash: what DELETE removed, listed and restored by document administrators.

``DriveMoving.delete`` marks an item and its live subtree with one time and
actor (``deleted_at``, ``deleted_by``); rows, bytes, versions, dead properties
and folder rights stay. An *entry* of the trash is an item deleted on its own:
its parent is live, or was deleted at another time. Restoring an entry brings
back everything deleted with it (the same mark), exactly as it was (owner,
classification, times, properties); what was deleted before it, inside it,
stays in the trash as its own entry. Purging (``davdrive.trash_purge``)
removes entries for good.

Trashed items are never seen over WebDAV (every lookup reads live nodes
only); only ``policy.may_manage_trash`` actors use these functions. They take
the caller's session, validate before changing anything, flush and audit;
the caller commits.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from sqlalchemy import CTE, Select, case, func, or_, select, update
from sqlalchemy.orm import Session, aliased

from davdrive import tree
from davdrive.account_checks import audit_change
from davdrive.drive_base import RESERVED_ROOT_KEYS
from davdrive.errors import BadRequest, Conflict, Forbidden, NameNotAvailable, NotFound
from davdrive.models import Node, User, utcnow
from davdrive.paths import join, name_key, reserved_key, split_path, validate_name
from davdrive.policy import Actor, may_manage_trash
from davdrive.write_lock import take_write_lock


@dataclass(frozen=True)
class TrashEntry:
    """An item deleted on its own; ``items``, ``files`` and ``size`` count it and
    what was deleted with it."""

    id: int
    path: str  # where it was, under its parent's current path
    kind: str
    items: int
    files: int
    size: int
    deleted_at: dt.datetime
    deleted_by: str  # a login, "system", or "#id" for a removed account
    expires_at: dt.datetime

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id, "path": self.path, "kind": self.kind, "items": self.items,
            "files": self.files, "size": self.size,
            "deleted_at": self.deleted_at.isoformat(), "deleted_by": self.deleted_by,
            "expires_at": self.expires_at.isoformat(),
        }


@dataclass(frozen=True)
class Restored:
    node: Node
    path: str
    items: int


def require_trash_right(actor: Actor) -> None:
    decision = may_manage_trash(actor)
    if not decision:
        raise Forbidden(f"Not allowed: {decision.reason}.")


def aware(value: dt.datetime) -> dt.datetime:
    """A stored time as UTC-aware (SQLite gives it back naive)."""
    return value if value.tzinfo is not None else value.replace(tzinfo=dt.UTC)


# --- queries -----------------------------------------------------------------------------------


def entries_query(before: dt.datetime | None = None) -> Select[Any]:
    """Ids of the trash's entries (deleted before ``before`` when given)."""
    parent = aliased(Node)
    query = select(Node.id).join(parent, parent.id == Node.parent_id).where(
        Node.deleted_at.is_not(None),
        or_(parent.deleted_at.is_(None), parent.deleted_at != Node.deleted_at),
    )
    if before is not None:
        query = query.where(Node.deleted_at < before)
    return query


def group_cte(tops: Select[Any]) -> CTE:
    """(top, id) of every node deleted together with one of ``tops`` (itself included)."""
    group = (
        select(Node.id.label("top"), Node.id.label("id"), Node.deleted_at.label("at"))
        .where(Node.id.in_(tops))
        .cte("trash_group", recursive=True)
    )
    return group.union_all(
        select(group.c.top, Node.id, Node.deleted_at)
        .where(Node.parent_id == group.c.id, Node.deleted_at == group.c.at)
    )


def group_figures(session: Session, tops: Select[Any]) -> dict[int, tuple[int, int, int]]:
    """{top: (items, files, bytes of files)} of the groups of ``tops``."""
    group = group_cte(tops)
    is_file = Node.kind == "file"
    rows = session.execute(
        select(
            group.c.top, func.count(),
            func.sum(case((is_file, 1), else_=0)),
            func.coalesce(func.sum(case((is_file, Node.size), else_=0)), 0),
        )
        .join(Node, Node.id == group.c.id)
        .group_by(group.c.top)
    )
    return {top: (items, int(files or 0), int(size or 0)) for top, items, files, size in rows}


def paths_of(session: Session, ids: Select[Any]) -> dict[int, str]:
    """{id: path} of the nodes ``ids``, live or not, through their current parents."""
    up = (
        select(Node.id, Node.parent_id, Node.name).where(Node.id.in_(ids))
        .cte("trash_up", recursive=True)
    )
    up = up.union(select(Node.id, Node.parent_id, Node.name).where(Node.id == up.c.parent_id))
    links = {node_id: (parent_id, name) for node_id, parent_id, name in session.execute(
        select(up.c.id, up.c.parent_id, up.c.name))}
    wanted = set(session.scalars(ids))
    paths = {}
    for node_id in wanted:
        parts: list[str] = []
        current: int | None = node_id
        while current is not None and current in links and links[current][0] is not None:
            parent_id, name = links[current]
            parts.append(name)
            current = parent_id
        paths[node_id] = join(list(reversed(parts)))
    return paths


def who(session: Session, user_ids: set[int | None]) -> dict[int | None, str]:
    """The login of each user id ("system" for None, "#id" for a removed account)."""
    known = {uid for uid in user_ids if uid is not None}
    logins: dict[int | None, str] = {None: "system"}
    if known:
        rows = session.execute(select(User.id, User.login).where(User.id.in_(known)))
        logins.update({uid: login for uid, login in rows})
    return {uid: logins.get(uid, f"#{uid}") for uid in user_ids}


# --- use cases ---------------------------------------------------------------------------------


def list_trash(
    session: Session, actor: Actor, *, retention_days: int, now: dt.datetime | None = None
) -> list[TrashEntry]:
    """Every entry of the trash, most recently deleted first, with when it expires
    (``retention_days`` after its deletion). Needs ``may_manage_trash``."""
    require_trash_right(actor)
    tops = entries_query()
    nodes = list(session.scalars(select(Node).where(Node.id.in_(tops))))
    figures = group_figures(session, tops)
    paths = paths_of(session, tops)
    logins = who(session, {n.deleted_by for n in nodes})
    keep = dt.timedelta(days=retention_days)
    entries = []
    for node in nodes:
        assert node.deleted_at is not None
        items, files, size = figures.get(node.id, (1, 0, 0))
        deleted = aware(node.deleted_at)
        entries.append(TrashEntry(
            id=node.id, path=paths[node.id], kind=node.kind, items=items, files=files,
            size=size, deleted_at=deleted, deleted_by=logins[node.deleted_by],
            expires_at=deleted + keep,
        ))
    entries.sort(key=lambda e: (e.deleted_at, e.id), reverse=True)
    return entries


def find_trashed(session: Session, path: str, entry_id: int | None = None) -> Node:
    """The trashed item at ``path``: the one of id ``entry_id``, else the one deleted
    last. NotFound when the trash holds nothing there."""
    parts = split_path(path)
    if not parts:
        raise BadRequest("The root folder is never in the trash.")
    keys = [name_key(p) for p in parts]
    candidates = session.scalars(
        select(Node).where(Node.deleted_at.is_not(None), Node.name_key == keys[-1])
    ).all()
    found = [
        n for n in candidates
        if [c.name_key for c in tree.ancestors(session, n)[1:]] == keys
        and (entry_id is None or n.id == entry_id)
    ]
    if not found:
        which = f" with id {entry_id}" if entry_id is not None else ""
        raise NotFound(f"Nothing{which} at {join(parts)} in the trash.")
    return max(found, key=lambda n: (aware(n.deleted_at or utcnow()), n.id))


def restore_from_trash(
    session: Session,
    actor: Actor,
    path: str,
    *,
    entry_id: int | None = None,
    as_name: str | None = None,
    windows_names: bool = True,
) -> Restored:
    """Bring the trashed item at ``path`` (``find_trashed``) back into its folder, with
    everything deleted with it, as it was; named ``as_name`` when given.

    Refused (nothing changed): the name is now taken by a live item, or reserved
    (NameNotAvailable, a Conflict asking for another name); the item was deleted
    with its folder, or its folder is in the trash (Conflict naming the folder to
    restore first); the name is not valid (BadRequest). Needs ``may_manage_trash``;
    audited (``trash.restore``).
    """
    require_trash_right(actor)
    take_write_lock(session, "drive")  # nothing changes between the checks and the restore
    node = find_trashed(session, path, entry_id)
    parent = session.get(Node, node.parent_id) if node.parent_id is not None else None
    if parent is None:
        raise Conflict(f"The folder that held {join(split_path(path))} no longer exists.")
    parent_path = join(tree.path_of(session, parent))
    if parent.deleted_at is not None:
        if parent.deleted_at == node.deleted_at:
            raise Conflict(
                f"{join(split_path(path))} was deleted with its folder {parent_path}: restore "
                "that folder, which brings back everything deleted with it."
            )
        raise Conflict(
            f"The folder {parent_path} that held {join(split_path(path))} is in the trash "
            "too: restore it first."
        )
    name = node.name if as_name is None else validate_name(as_name, windows=windows_names)
    if parent.parent_id is None and reserved_key(name) in RESERVED_ROOT_KEYS:
        raise NameNotAvailable(f"The name {name!r} is reserved by the drive.")
    if tree.child_named(session, parent.id, name) is not None:
        raise NameNotAvailable(
            f"The name {name!r} is taken in {parent_path} by a live item: restore it under "
            "another name."
        )
    group = group_cte(select(Node.id).where(Node.id == node.id))
    ids = list(session.scalars(select(group.c.id)))
    deleted = aware(node.deleted_at or utcnow())
    by = who(session, {node.deleted_by})[node.deleted_by]
    old_name = node.name
    if name != old_name:  # renamed in the trash first: the live name stays unique
        node.name, node.name_key = name, name_key(name)
        session.flush()
    session.execute(
        update(Node).where(Node.id.in_(ids)).values(deleted_at=None, deleted_by=None)
        .execution_options(synchronize_session=False)
    )
    session.refresh(node)
    new_path = join(tree.path_of(session, node))
    renamed = f", renamed from {old_name!r}" if name != old_name else ""
    audit_change(session, actor, "trash.restore", path=new_path, detail=(
        f"{len(ids)} item(s) deleted {deleted.isoformat(timespec='seconds')} by {by}{renamed}"
    ))
    return Restored(node=node, path=new_path, items=len(ids))
