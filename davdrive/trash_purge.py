"""Purging the trash: entries past the retention go for good, and their content
with them when nothing else uses it.

``purge_trash`` removes every entry of the trash deleted more than
``older_than_days`` ago (``storage.trash_days`` by default, for ``serve``'s
periodic clean-up) with all it holds: rows, versions, dead properties and
folder rights. It then collects the blobs only those rows used
(``davdrive.blob_gc``): content a live file, a version or an attachment still
uses stays. Each purged entry is audited (``trash.purge``). The caller commits.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from davdrive.account_checks import audit_change
from davdrive.blob_backend import BlobBackend
from davdrive.blob_gc import YOUNG_SECONDS, Collected, collect_garbage
from davdrive.categories import bump_category_version
from davdrive.errors import BadRequest
from davdrive.models import DeadProperty, FolderRight, Node, NodeVersion, utcnow
from davdrive.policy import Actor
from davdrive.trash import (
    aware,
    entries_query,
    group_figures,
    paths_of,
    require_trash_right,
    who,
)
from davdrive.write_lock import take_write_lock


@dataclass(frozen=True)
class Purged:
    """What a purge removed: ``entries`` of the trash, ``items`` in all (with what they
    held), the ``bytes`` of their files, and what the collection then freed."""

    entries: int = 0
    items: int = 0
    bytes: int = 0
    collected: Collected = field(default_factory=Collected)


def purge_trash(
    session: Session,
    blobs: BlobBackend,
    actor: Actor,
    *,
    older_than_days: float,
    now: dt.datetime | None = None,
    min_age: float = YOUNG_SECONDS,
) -> Purged:
    """Remove for good every trash entry deleted more than ``older_than_days`` days
    before ``now`` (0: the whole trash), then the blobs nothing uses any more
    (``collect_garbage``, which leaves files younger than ``min_age`` seconds).
    Needs ``may_manage_trash``."""
    require_trash_right(actor)
    if not older_than_days >= 0:
        raise BadRequest("The age of what to purge is a number of days, 0 or more.")
    cutoff = (now or utcnow()) - dt.timedelta(days=older_than_days)
    take_write_lock(session, "drive")
    tops = entries_query(before=cutoff)
    top_nodes = list(session.scalars(select(Node).where(Node.id.in_(tops))))
    if not top_nodes:
        return Purged()
    figures = group_figures(session, tops)
    paths = paths_of(session, tops)
    logins = who(session, {n.deleted_by for n in top_nodes})
    down = select(Node.id).where(Node.id.in_(tops)).cte("purged", recursive=True)
    down = down.union_all(select(Node.id).where(Node.parent_id == down.c.id))
    id_list = list(session.scalars(select(down.c.id)))
    released: set[str] = set()
    rights_of: set[int] = set()
    for chunk in _chunks(id_list):
        released.update(session.scalars(select(Node.blob_sha256).where(
            Node.id.in_(chunk), Node.blob_sha256.is_not(None))))
        released.update(session.scalars(select(NodeVersion.blob_sha256).where(
            NodeVersion.node_id.in_(chunk))))
        rights_of.update(session.scalars(select(FolderRight.category_id).where(
            FolderRight.folder_id.in_(chunk))))
    for node in top_nodes:
        count, files, size = figures.get(node.id, (1, 0, 0))
        deleted = aware(node.deleted_at or cutoff).isoformat(timespec="seconds")
        audit_change(session, actor, "trash.purge", path=paths[node.id], detail=(
            f"{count} item(s), {files} file(s), {size} bytes, deleted {deleted} by "
            f"{logins[node.deleted_by]}"
        ))
        session.expunge(node)
    for table, column in ((NodeVersion, NodeVersion.node_id),
                          (DeadProperty, DeadProperty.node_id),
                          (FolderRight, FolderRight.folder_id),
                          (Node, Node.id)):  # what refers to a node first, then the nodes
        for chunk in _chunks(id_list):
            session.execute(delete(table).where(column.in_(chunk))
                            .execution_options(synchronize_session=False))
    for category_id in rights_of:  # a process's rights map must not outlive its folders
        bump_category_version(session, category_id)
    session.flush()
    collected = collect_garbage(session, blobs, actor=actor, among=released, min_age=min_age)
    return Purged(
        entries=len(top_nodes), items=len(id_list),
        bytes=sum(figures.get(n.id, (1, 0, 0))[2] for n in top_nodes), collected=collected,
    )


def _chunks(ids: list[int], size: int = 500) -> list[list[int]]:
    return [ids[start:start + size] for start in range(0, len(ids), size)]
