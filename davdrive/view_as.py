""""View as": a folder's listing exactly as one user gets it over WebDAV.

The listing is built by the same code that answers that user's PROPFIND:
``Drive.node_at``/``Drive.children`` for the drive (visible and
pass-through items, junk files left out) and ``Backoffice`` for the
virtual branch, which the root lists when the user sees any of it. A path
the user cannot see lists nothing (``exists_for_user`` False), as a 404
would tell them. Used by the admin view next to ``node_admin.explain``.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy.orm import Session

from davdrive.backoffice import BRANCH, Backoffice
from davdrive.blob_backend import BlobBackend
from davdrive.paths import join, name_key, split_path
from davdrive.services import Drive, DriveOptions
from davdrive.users import actor_for, get_user


@dataclass(frozen=True)
class ListedItem:
    name: str
    is_folder: bool
    size: int | None
    modified: dt.datetime | None


@dataclass(frozen=True)
class Listing:
    login: str
    path: str
    exists_for_user: bool
    is_folder: bool
    items: list[ListedItem]


def listing_as(
    session: Session, blobs: BlobBackend, options: DriveOptions, login: str, path: str
) -> Listing:
    """What ``login`` gets for ``path``: its children when it is a folder they see."""
    user = get_user(session, login)
    actor = actor_for(user)
    parts = split_path(path)
    shown = join(parts)
    if parts and name_key(parts[0]) == BRANCH:
        branch = Backoffice(session, actor)
        entry = branch.resolve(parts[1:])
        if entry is None:
            return Listing(user.login, shown, False, False, [])
        items = [ListedItem(e.name, e.is_folder,
                            e.attachment.size if e.attachment else None,
                            e.attachment.created_at if e.attachment else None)
                 for e in branch.children(entry)] if entry.is_folder else []
        return Listing(user.login, shown, True, entry.is_folder, _ordered(items))
    drive = Drive(session, blobs, actor, options)
    node = drive.node_at(parts)
    if node is None:
        return Listing(user.login, shown, False, False, [])
    if not node.is_folder:
        return Listing(user.login, shown, True, False, [])
    items = [
        ListedItem(child.name, child.is_folder, None if child.is_folder else child.size,
                   dt.datetime.fromtimestamp(child.mtime, dt.UTC) if child.mtime else None)
        for child in drive.children(node)
    ]
    if not parts and Backoffice(session, actor).resolve([]) is not None:
        items.append(ListedItem(BRANCH, True, None, None))
    return Listing(user.login, shown, True, True, _ordered(items))


def _ordered(items: list[ListedItem]) -> list[ListedItem]:
    return sorted(items, key=lambda i: (not i.is_folder, name_key(i.name)))
