"""Uploading files into a folder of the web drive (``POST /files/upload``).

The form (``files/_upload.html``) sends the folder's ``path`` and its files as
``files``; ``Drive.upload_files`` stores them all or none, each checked as a
WebDAV PUT. Stored: 303 back to the folder, whose page names what was stored
(``uploaded``). Refused: the folder's page again, with the status of the
refusal and every refused file with its reason; nothing is stored. A submit
larger than the upload limit is refused before it is read (413, ``web.app``).
"""

from __future__ import annotations

from typing import Any, BinaryIO, cast

from flask import g, redirect, request, url_for

from davdrive.backoffice import BRANCH
from davdrive.browse import Folder, browse
from davdrive.drive_uploads import IncomingFile, UploadedFiles
from davdrive.errors import DriveError, FilesRefused, Forbidden, NotFound, status_of
from davdrive.paths import name_key, split_path
from web.acting import drive_of_actor, path_arg
from web.admin.blueprint import signed_in
from web.files.blueprint import files
from web.files.browse_views import folder_page
from web.files.targets import unlocked

NAMES_SHOWN = 20  # file names the message after an upload lists, at most


@files.context_processor
def _upload_context() -> dict[str, Any]:
    """What the last upload stored, for the folder page it was sent back to."""
    return {"uploaded": request.args.get("uploaded", "")[:2000]}


@files.post("/upload", endpoint="upload")
@signed_in
def upload() -> Any:
    path = path_arg(request.form)
    parts = split_path(path)
    if parts and name_key(parts[0]) == BRANCH:
        raise Forbidden("The back office is read-only: files are attached to records in the "
                        "admin view.")
    drive = drive_of_actor()
    folder = drive.node_at(parts)
    if folder is None or not folder.is_folder:
        raise NotFound(f"{path} is not a folder.")
    incoming = [IncomingFile(f.filename or "", cast(BinaryIO, f.stream))
                for f in request.files.getlist("files") if f.filename]
    try:
        done = drive.upload_files(folder, incoming,
                                  unlocked=lambda node: unlocked(drive.path(node), False))
    except FilesRefused as refused:
        return _refused(path, refused.status, refusals=refused.refusals)
    except DriveError as exc:
        return _refused(path, status_of(exc), error=exc.message)
    return redirect(url_for("files.browse", subpath=path.lstrip("/"), uploaded=summary(done)),
                    303)


def _refused(path: str, status: int, **outcome: Any) -> Any:
    """The folder's page again, with what refused the upload (nothing was stored)."""
    g.db.rollback()
    found = browse(drive_of_actor(), path)
    if not isinstance(found, Folder):
        raise NotFound(f"{path} is not a folder.")
    return folder_page(found, status, upload_refusals=outcome.get("refusals", []),
                       upload_error=outcome.get("error", ""))


def summary(done: UploadedFiles) -> str:
    """One sentence per kind of outcome, naming the files (the first ``NAMES_SHOWN``)."""
    parts = []
    if done.created:
        parts.append(f"Stored {_count(done.created)}: {_names([n.name for n in done.created])}.")
    if done.replaced:
        parts.append(f"Replaced {_count(done.replaced)} (the previous content is kept as a "
                     f"version): {_names([n.name for n in done.replaced])}.")
    if done.skipped:
        parts.append(f"Not kept (system files): {_names(done.skipped)}.")
    return " ".join(parts)


def _count(items: list[Any]) -> str:
    return "1 file" if len(items) == 1 else f"{len(items)} files"


def _names(names: list[str]) -> str:
    shown = ", ".join(names[:NAMES_SHOWN])
    more = len(names) - NAMES_SHOWN
    return f"{shown} and {more} more" if more > 0 else shown
