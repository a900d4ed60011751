"""Browsing and downloading: a folder's listing as the user's WebDAV client gets it
(``davdrive.browse``), sorted by name, date or size; a file downloads as an
attachment with the WebDAV GET's safe headers. What the user may not see is a 404.
"""

from __future__ import annotations

from typing import Any, BinaryIO

from flask import Response, g, render_template, request

from davdrive import attachments
from davdrive.backoffice import BRANCH, Backoffice
from davdrive.browse import SORT_KEYS, Folder, browse, order
from davdrive.errors import NotFound
from davdrive.paths import join, name_key, split_path
from web.acting import drive_of_actor
from web.admin.blueprint import signed_in
from web.downloads import attachment_response
from web.files.blueprint import files
from web.request_state import state


@files.get("/", endpoint="browse", defaults={"subpath": ""})
@files.get("/<path:subpath>", endpoint="browse")
@signed_in
def browse_page(subpath: str) -> Any:
    path = join(split_path(subpath))
    found = browse(drive_of_actor(), path)
    if not isinstance(found, Folder):
        return _download(path)
    return folder_page(found)


def folder_page(folder: Folder, status: int = 200, **context: Any) -> Any:
    """The page of ``folder`` (sorted as the query asks) with ``status``; ``context``
    adds what a form's answer shows on it (e.g. its refusals)."""
    sort = request.args.get("sort", "name")
    sort = sort if sort in SORT_KEYS else "name"
    descending = request.args.get("order") == "desc"
    entries = order(folder.entries, sort, descending=descending)
    return render_template("files/folder.html", folder=folder, entries=entries,
                           crumbs=crumbs(folder.path), sort=sort, descending=descending,
                           **context), status


def crumbs(path: str) -> list[tuple[str, str]]:
    """(name, path) of every folder from the root to ``path``."""
    parts = split_path(path)
    return [("Files", "/")] + [(p, join(parts[: i + 1])) for i, p in enumerate(parts)]


def _download(path: str) -> Response:
    parts = split_path(path)
    if parts and name_key(parts[0]) == BRANCH:
        stream, name, size, ctype = _branch_file(parts)
    else:
        drive = drive_of_actor()
        node = drive.node_at(parts)
        if node is None or node.is_folder:
            raise NotFound(f"{path} does not exist.")
        stream, name, size = drive.open_content(node), node.name, node.size
        ctype = node.content_type or "application/octet-stream"
    return attachment_response(stream, name, size, ctype)


def _branch_file(parts: list[str]) -> tuple[BinaryIO, str, int, str]:
    entry = Backoffice(g.db, g.actor).resolve(parts[1:])
    if entry is None or entry.attachment is None:
        raise NotFound(f"{join(parts)} does not exist.")
    stream, attachment = attachments.open_attachment(g.db, state().runtime.blobs,
                                                     entry.attachment, g.actor)
    return stream, attachment.file_name, attachment.size, attachment.content_type
