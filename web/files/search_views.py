"""Searching names below a folder: ``GET /files/<folder>?q=text``.

The results are ``davdrive.name_search.search`` for the signed-in user: matching
files and folders they see below the folder (a hidden match is simply absent), by
path, at most ``name_search.LIMIT`` with "showing the first ..." when there are
more. An empty search shows the page with a hint and no results; a search over 255
characters or with control characters is a 400. The back office is not searched
(400); a folder the user may not see is a 404.
"""

from __future__ import annotations

from typing import Any

from flask import g, render_template, request

from davdrive.backoffice import BRANCH, Backoffice
from davdrive.errors import BadRequest, NotFound
from davdrive.name_search import LIMIT, clean_query, search
from davdrive.paths import join, name_key, split_path
from web.acting import drive_of_actor
from web.admin.blueprint import signed_in
from web.files.blueprint import files
from web.files.browse_views import crumbs


@files.before_request
def _search_requested() -> Any:
    """``files.browse`` with ``q=...`` is answered here (None: browse as usual)."""
    if request.endpoint != "files.browse" or "q" not in request.args:
        return None
    return signed_in(search_page)(**(request.view_args or {}))


def search_page(subpath: str) -> Any:
    """The results page of ``q`` below the folder at ``subpath``."""
    parts = split_path(subpath)
    path = join(parts)
    text = clean_query(request.args.get("q", ""))
    if parts and name_key(parts[0]) == BRANCH:
        if Backoffice(g.db, g.actor).resolve(parts[1:]) is None:
            raise NotFound(f"{path} does not exist.")
        raise BadRequest("The back office is not searched; search the drive's folders.")
    drive = drive_of_actor()
    folder = drive.node_at(parts)
    if folder is None:
        raise NotFound(f"{path} does not exist.")
    if not folder.is_folder:
        raise BadRequest("Only a folder is searched.")
    found = search(drive, folder, text) if text else None
    return render_template("files/search.html", search_in=path, crumbs=crumbs(path), q=text,
                           found=found, limit=LIMIT)
