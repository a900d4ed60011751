"""What a web drive action acts on, resolved again as the signed-in user: the path a
form sends is never trusted, only what that user's drive finds there."""

from __future__ import annotations

from flask import g

from davdrive.backoffice import BRANCH
from davdrive.errors import Conflict, Forbidden, NotFound
from davdrive.lock_guard import require_unlocked
from davdrive.models import Node
from davdrive.paths import join, name_key, split_path
from davdrive.services import Drive
from web.request_state import state


def node_of(drive: Drive, path: str, what: str = "") -> Node:
    """The node at ``path`` as the actor sees it: NotFound (404) when they do not (as
    over WebDAV); Forbidden for the read-only back-office branch."""
    parts = split_path(path)
    if parts and name_key(parts[0]) == BRANCH:
        raise Forbidden("The back office is read-only: nothing there is changed here.")
    node = drive.node_at(parts)
    if node is None:
        raise NotFound(f"{what}{join(parts)} does not exist.")
    return node


def folder_of(drive: Drive, path: str) -> Node:
    """The folder at ``path`` (``node_of``); Conflict (409) when it is a file."""
    node = node_of(drive, path, "The folder ")
    if not node.is_folder:
        raise Conflict(f"{join(split_path(path))} is a file, not a folder.")
    return node


def refuse_seen_clash(drive: Drive, folder_path: str, name: str, moving: Node | None = None
                      ) -> None:
    """Conflict (409) naming the item the actor sees under ``name`` in the folder (other
    than ``moving``). Names the actor cannot see are left to the use case (its audited
    "not available"), so this says nothing they could not read in the listing."""
    if not name or "/" in name:
        return  # the use case's name check gives the reason
    held = drive.node_at([*split_path(folder_path), name])
    if held is not None and held is not moving:
        raise Conflict(f"An item named {held.name!r} is already in this folder; "
                       "choose another name. Nothing was changed.")


def unlocked(path: str, below: bool) -> None:
    """Locked (423) while a WebDAV client holds a lock forbidding to change ``path``
    (with ``below``: or what it holds); the browser never holds lock tokens."""
    require_unlocked(g.db, state().settings["dav.mount"], path, below=below)
