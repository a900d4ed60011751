"""Moving a file or folder to another folder: a page to pick the destination, then
the POST that moves it.

The page (``/files/<item>?move&to=<folder>``, reached from the listing) shows one
folder at a time, as the user's listing shows it (``davdrive.browse``: nothing they
may not see), with its subfolders to open and a "Move here" button on each folder
that allows them to create (the folder itself included); never on the item itself,
whose subtree is thus never offered. ``Drive.move`` does the move and checks every
rule again (rights on the whole subtree, the destination's, its names, never into
itself). Bad destinations come back on the page with the reason and the status
(404, 403, 409); nothing changed.
"""

from __future__ import annotations

from typing import Any

from flask import redirect, render_template, request, url_for

from davdrive.browse import Folder, browse
from davdrive.errors import BadRequest, Conflict, DriveError, Forbidden, status_of
from davdrive.models import Node
from davdrive.paths import join, split_path
from davdrive.policy import Action
from davdrive.services import Drive
from web.acting import drive_of_actor, path_arg
from web.admin.blueprint import signed_in
from web.files.blueprint import files
from web.files.targets import folder_of, node_of, refuse_seen_clash, unlocked
from web.forms import refusal

INTO_ITSELF = ("A folder cannot be moved into itself or into one of its subfolders; "
               "nothing was changed.")


def move_page(path: str, refused: DriveError | None = None, to: str | None = None) -> Any:
    """The destination picker for the item at ``path``, showing the folder ``to`` (the
    query's ``to``; by default the item's own folder)."""
    drive = drive_of_actor()
    node = movable(drive, path)
    here = join(split_path(path)[:-1])
    to = to if to is not None else path_arg(request.args, "to") if "to" in request.args else here
    found = browse(drive, to)
    if not isinstance(found, Folder) or found.read_only:
        raise Conflict(f"{found.path} is not a folder you can move things into.")
    inside = node.is_folder and node.id in {n.id for n in drive.chain(split_path(to)) or []}
    error = refused.message if refused else INTO_ITSELF if inside else ""
    status = status_of(refused) if refused else 409 if inside else 200
    folders = [e for e in found.entries if e.is_folder and e.node_id not in (None, node.id)]
    return render_template(
        "files/move.html", node=node, path=path, here=here, folder=found, folders=folders,
        trail=trail(to), error=error, inside=inside,
        may_move_here=lambda f: f.may("create") and f.node_id != node.parent_id and not inside,
    ), status


def movable(drive: Drive, path: str) -> Node:
    """The item at ``path`` when the actor may move it (404 unseen, 403 with the reason)."""
    node = node_of(drive, path)
    decision = drive.decide(Action.MOVE, node)
    if not decision.allowed:
        raise Forbidden(f"Not allowed to move {node.name or '/'!r}: {decision.reason}.")
    return node


def trail(path: str) -> list[tuple[str, str]]:
    """(name, path) of every folder from the root to ``path``."""
    parts = split_path(path)
    return [("Files", "/")] + [(p, join(parts[: i + 1])) for i, p in enumerate(parts)]


@files.post("/move", endpoint="move")
@signed_in
def move() -> Any:
    path, to = path_arg(request.form), path_arg(request.form, "to")
    drive = drive_of_actor()
    node = movable(drive, path)

    def move_it() -> None:
        dest = folder_of(drive, to)
        drive.require(Action.CREATE, dest)
        unlocked(path, node.is_folder)
        refuse_seen_clash(drive, to, node.name, moving=node)
        drive.move(node, dest, node.name, None)

    refused = refusal(move_it)
    if refused:
        if not isinstance(refused, (BadRequest, Conflict)):
            raise refused
        return move_page(path, refused, to)
    where = join(split_path(drive.path(node))[:-1])
    return redirect(url_for("files.browse", subpath=where.lstrip("/"), _anchor="done",
                            done=f"Moved {node.name!r} to {where}."), 303)
