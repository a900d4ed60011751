"""The web drive's changes: a new folder, rename, delete (to the trash) and the
private/shared switch (the move is in ``move_views``).

Each POST names its item by path; the item is found again as the signed-in user
(404 for what they may not see) and the drive's use case does the change, checking
the rights and auditing it as over WebDAV (``make_folder``, ``move``, ``delete``,
``set_visibility``). A refused name comes back next to its field with the use case's
status (400, 409) and nothing changed; other refusals get the error page (403, 404).
Done: 303 to the folder with a message.
"""

from __future__ import annotations

from typing import Any

from flask import redirect, request, url_for

from davdrive.browse import Folder, browse
from davdrive.errors import BadRequest, Conflict, DriveError, status_of
from davdrive.paths import join, split_path
from davdrive.policy import Action
from davdrive.services import Drive
from web.acting import drive_of_actor, path_arg
from web.admin.blueprint import signed_in
from web.files.blueprint import files
from web.files.browse_views import folder_page
from web.files.targets import folder_of, node_of, refuse_seen_clash, unlocked
from web.forms import Errors, checked, refusal, text
from web.request_state import state

NAME_FIELD_LIMIT = 1000  # longer than any valid name: the name rules give the reason


def done(folder: str, message: str) -> Any:
    """303 to ``folder``'s listing, showing ``message`` where the actions are."""
    return redirect(url_for("files.browse", subpath=folder.lstrip("/"), done=message,
                            _anchor="done"), 303)


def again(drive: Drive, folder: str, refused: DriveError, field: str, item: str = "",
          asked: str = "") -> Any:
    """``folder``'s listing again with ``refused`` next to ``field`` (of ``item``'s row,
    or of the folder's own forms), with the refusal's status. Errors other than a bad
    name or a name clash (rights, missing items) get the error page."""
    if not isinstance(refused, (BadRequest, Conflict)):
        raise refused
    found = browse(drive, folder)
    assert isinstance(found, Folder)
    request.view_args = {"subpath": folder.lstrip("/")}  # the sort links of that folder
    return folder_page(found, status_of(refused), errors=Errors({field: refused.message}),
                       failed=item, asked=asked)


def parent_of(path: str) -> str:
    return join(split_path(path)[:-1])


@files.post("/new-folder", endpoint="new_folder")
@signed_in
def new_folder() -> Any:
    path = path_arg(request.form)
    name = text("name", NAME_FIELD_LIMIT)
    drive = drive_of_actor()
    folder = folder_of(drive, path)

    def make() -> None:
        drive.require(Action.CREATE, folder)
        if not name:
            raise BadRequest("Give the new folder a name.")
        refuse_seen_clash(drive, path, name)
        drive.make_folder(folder, name)

    refused = refusal(make)
    if refused:
        return again(drive, path, refused, "new_folder", asked=name)
    return done(path, f"Folder {name!r} created.")


@files.post("/rename", endpoint="rename")
@signed_in
def rename() -> Any:
    path = path_arg(request.form)
    name = text("name", NAME_FIELD_LIMIT)
    drive = drive_of_actor()
    node = node_of(drive, path)
    old, folder = node.name, parent_of(path)

    def move() -> None:
        drive.require(Action.MOVE, node)
        unlocked(path, node.is_folder)
        parent = folder_of(drive, folder)
        drive.require(Action.CREATE, parent)
        if not name:
            raise BadRequest("Give the new name.")
        if name != old:
            refuse_seen_clash(drive, folder, name, moving=node)
            drive.move(node, parent, name, None)

    refused = refusal(move)
    if refused:
        return again(drive, folder, refused, "rename", item=path, asked=name)
    if node.name == old:
        return done(folder, "Nothing changed: that is its name already.")
    return done(folder, f"Renamed {old!r} to {node.name!r}.")


@files.post("/delete", endpoint="delete")
@signed_in
def delete() -> Any:
    path = path_arg(request.form)
    drive = drive_of_actor()
    node = node_of(drive, path)
    name, days = node.name, state().settings["storage.trash_days"]

    def trash() -> None:
        drive.require(Action.DELETE, node)
        if not checked("confirm"):
            raise BadRequest("Tick the box to confirm; nothing was deleted.")
        unlocked(path, node.is_folder)
        drive.delete(node)

    refused = refusal(trash)
    if refused:
        return again(drive, parent_of(path), refused, "delete", item=path)
    return done(parent_of(path), (
        f"{name!r} went to the trash. Document administrators can restore it from there "
        f"within {days} days."))


@files.post("/visibility", endpoint="visibility")
@signed_in
def visibility() -> Any:
    path = path_arg(request.form)
    wanted = text("visibility", 16)
    drive = drive_of_actor()
    node = node_of(drive, path)
    def set_it() -> None:
        drive.require(Action.SET_VISIBILITY, node)
        unlocked(path, False)
        drive.set_visibility(node, wanted)

    refused = refusal(set_it)
    if refused:
        raise refused
    return done(parent_of(path), (
        f"{node.name!r} is now private: only its owner and those who manage its folder "
        "see it."
        if wanted == "private" else
        f"{node.name!r} is now shared with everyone who may see its folder."))
