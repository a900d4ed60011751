"""A folder as one user sees it in the browser: the same items as their WebDAV
listing, with what the page shows of each and what the user may do with it.

``browse(drive, path)`` walks the path with ``Drive.node_at`` and lists with
``Drive.children`` (visible and pass-through items, junk files left out):
the code that answers that user's PROPFIND, so the two never differ. The
root also lists the back-office branch when the user sees any of it; below
``/backoffice`` the entries come from ``Backoffice`` (read-only, record names
shown). A path the user may not see raises NotFound, as a 404 would answer.
Each entry carries its effective classification (degree, doc type, private)
and the actions the policy allows on it (``allowed``), so a page offers only
those; the use cases check them again.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from davdrive.backoffice import BRANCH, Backoffice
from davdrive.backoffice import Entry as BranchEntry
from davdrive.errors import NotFound
from davdrive.models import Node
from davdrive.paths import join, name_key, split_path
from davdrive.policy import Action
from davdrive.services import Drive

SORT_KEYS = ("name", "date", "size")


@dataclass(frozen=True)
class Item:
    """One entry of a listing (a drive node, or an item of the back-office branch)."""

    name: str
    path: str
    is_folder: bool
    size: int | None = None
    modified: dt.datetime | None = None
    owner: str = ""
    degree: int = 0
    doc_type: str | None = None
    private: bool = False
    record: str = ""  # the record's display name, in the back-office branch
    allowed: frozenset[Action] = frozenset()
    node_id: int | None = None

    def may(self, action: str) -> bool:
        return Action(action) in self.allowed


@dataclass(frozen=True)
class Folder:
    """A folder the user sees: itself as an ``Item`` and its entries."""

    item: Item
    entries: list[Item] = field(default_factory=list)
    read_only: bool = False  # the back-office branch

    @property
    def path(self) -> str:
        return self.item.path


def browse(drive: Drive, path: str) -> Folder | Item:
    """The folder at ``path`` with its entries (folders first, by name), or the file
    there as an ``Item``; NotFound when the user does not see it."""
    parts = split_path(path)
    if parts and name_key(parts[0]) == BRANCH:
        return _branch(drive, parts)
    node = drive.node_at(parts)
    if node is None:
        raise NotFound(f"{join(parts)} does not exist.")
    item = _item(drive, node, join(parts), {})
    if not node.is_folder:
        return item
    children = drive.children(node)
    owners = drive.owner_logins(c.owner_id for c in children)
    entries = [_item(drive, c, join([*parts, c.name]), owners) for c in children]
    if not parts and Backoffice(drive.session, drive.actor).resolve([]) is not None:
        entries.append(Item(BRANCH, "/" + BRANCH, True, allowed=frozenset(
            {Action.SEE, Action.READ})))
    return Folder(item, order(entries, "name", descending=False))


def _item(drive: Drive, node: Node, path: str, owners: dict[int, str]) -> Item:
    facts = drive.facts_of(node)
    return Item(
        name=node.name if node.parent_id is not None else "",
        path=path,
        is_folder=node.is_folder,
        size=None if node.is_folder else node.size,
        modified=dt.datetime.fromtimestamp(node.mtime, dt.UTC) if node.mtime else None,
        owner=owners.get(node.owner_id, "") if node.owner_id else "",
        degree=facts.min_degree,
        doc_type=facts.doc_type,
        private=node.visibility == "private",
        allowed=frozenset(drive.allowed_actions(node)),
        node_id=node.id,
    )


def _branch(drive: Drive, parts: list[str]) -> Folder | Item:
    branch = Backoffice(drive.session, drive.actor)
    entry = branch.resolve(parts[1:])
    if entry is None:
        raise NotFound(f"{join(parts)} does not exist.")
    item = _branch_item(entry)
    if not entry.is_folder:
        return item
    entries = [_branch_item(e) for e in branch.children(entry)]
    return Folder(item, order(entries, "name", descending=False), read_only=True)


def _branch_item(entry: BranchEntry) -> Item:
    attachment, record = entry.attachment, entry.record
    readable = frozenset({Action.SEE, Action.READ})
    if attachment is not None:
        return Item(attachment.file_name, join([BRANCH, *entry.parts]), False,
                    size=attachment.size, modified=_aware(attachment.created_at),
                    private=attachment.visibility == "private",
                    record=record.name if record else "", allowed=readable)
    return Item(entry.name, join([BRANCH, *entry.parts]), True,
                record=record.name if record else "", allowed=readable)


def _aware(moment: dt.datetime | None) -> dt.datetime | None:
    if moment is None or moment.tzinfo is not None:
        return moment
    return moment.replace(tzinfo=dt.UTC)


def order(items: list[Item], key: str, *, descending: bool) -> list[Item]:
    """Folders first, then files, each by ``key`` (name, date or size; ties by name)."""
    if key not in SORT_KEYS:
        key = "name"
    epoch = dt.datetime.min.replace(tzinfo=dt.UTC)

    def value(item: Item) -> tuple[object, str]:
        by_name = name_key(item.name)
        if key == "date":
            return (item.modified or epoch, by_name)
        if key == "size":
            return (item.size or 0, by_name)
        return (by_name, by_name)

    folders = sorted((i for i in items if i.is_folder), key=value, reverse=descending)
    files = sorted((i for i in items if not i.is_folder), key=value, reverse=descending)
    return folders + files
