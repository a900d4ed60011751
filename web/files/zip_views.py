"""A folder downloaded as one zip: ``GET /files/<folder>?download=zip``.

The archive holds what ``davdrive.folder_archive`` walks for the user (every file
they may read below the folder, paths relative to it) and is written by
``davdrive.zip_stream`` while it is sent: no file on disk, one chunk in memory.
``survey`` refuses an oversized folder (413) before the first byte.

The answer outlives the request, so the zip has a database session of its own
(``web.downloads.with_own_session``); each file is read through it, as the user,
when its turn comes.

The back-office branch is not offered as a zip (400: its documents download one at
a time); what the user may not see is a 404, as everywhere.
"""

from __future__ import annotations

from typing import Any

from flask import Response, g, request
from sqlalchemy.orm import Session

from davdrive.backoffice import BRANCH, Backoffice
from davdrive.errors import BadRequest, NotFound
from davdrive.folder_archive import ArchiveLimits, archive_name, survey, zip_members
from davdrive.paths import join, name_key, split_path
from davdrive.services import Drive
from davdrive.zip_stream import zip_chunks
from web.admin.blueprint import signed_in
from web.downloads import with_own_session
from web.files.blueprint import files
from web.request_state import client_address, state

LIMITS = ArchiveLimits()


@files.before_request
def _zip_requested() -> Any:
    """``files.browse`` with ``download=...`` is answered here (None: browse as usual)."""
    if request.endpoint != "files.browse" or "download" not in request.args:
        return None
    return signed_in(folder_zip)(**(request.view_args or {}))


def folder_zip(subpath: str) -> Response:
    """The folder at ``subpath`` as a streamed zip attachment named after it."""
    if request.args.get("download") != "zip":
        raise BadRequest("A folder downloads as download=zip; no other format is offered.")
    parts = split_path(subpath)
    if parts and name_key(parts[0]) == BRANCH:
        if Backoffice(g.db, g.actor).resolve(parts[1:]) is None:
            raise NotFound(f"{join(parts)} does not exist.")
        raise BadRequest("The back office is not downloaded as a zip: download its "
                         "documents one at a time.")
    return with_own_session(lambda session: _zip_answer(session, parts))


def _zip_answer(session: Session, parts: list[str]) -> Response:
    runtime = state().runtime
    drive = Drive(session, runtime.blobs, g.actor, runtime.drive_options, ip=client_address())
    folder = drive.node_at(parts)
    if folder is None:
        raise NotFound(f"{join(parts)} does not exist.")
    if not folder.is_folder:
        raise BadRequest("Only a folder downloads as a zip; download this file as it is.")
    survey(drive, folder, LIMITS)
    response = Response(zip_chunks(zip_members(drive, folder)), mimetype="application/zip")
    response.headers.set("Content-Disposition", "attachment", filename=archive_name(folder))
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response
