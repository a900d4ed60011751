"""Nextcloud chunked upload v2 under ``<mount>/uploads/LOGIN/``.

- ``MKCOL <dir>/``: start an upload (201; 405 if it exists; 507 past
  ``MAX_UPLOADS`` in progress). Expired uploads (untouched for
  ``EXPIRY_SECONDS``, any user's) are removed then.
- ``PUT <dir>/<chunk>``: store one chunk (201), at most the upload limit in all.
- ``MOVE <dir>/.file`` with ``Destination`` (under ``<mount>/`` or
  ``<mount>/files/LOGIN/``) and optionally ``OC-Total-Length``: streams the
  chunks, in order, into one blob writer, checks the total length and
  ``OC-Checksum``, then stores the file exactly as a PUT would (same rights,
  locks and versions; 201 new, 204 replaced), and removes the chunks.
- ``DELETE <dir>/``: drop an upload (204; 404 if missing).

Chunks are files in the data folder, outside the drive: never listed, never
addressable as drive items. Chunk order: by number when every name is a
number (Nextcloud's 1..N), else by name (rclone's zero-padded offsets).
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any
from urllib.parse import quote

from wsgidav import util
from wsgidav.dav_error import DAVError

from davdrive.errors import TooLarge
from davdrive.paths import join, split_path
from provider.context import context_of
from provider.errors import dav_errors, plain_response
from provider.owncloud import check_oc_checksum, parse_oc_checksum
from provider.uploads import oc_mtime

EXPIRY_SECONDS = 24 * 3600
MAX_UPLOADS = 100  # in progress per user
NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")
BLOCK = 1024 * 1024


class ChunkedUploads:
    """WSGI handler for the uploads area of the signed-in user.

    ``root``: folder for chunks (one sub-folder per user id); ``provider``: the
    drive's WsgiDAV provider (lock manager, path resolution); ``layout``: turns a
    Destination URL into a drive path.
    """

    def __init__(self, root: Path, provider: Any, layout: Any, max_bytes: int | None) -> None:
        self.root = Path(root)
        self.provider = provider
        self.layout = layout
        self.max_bytes = max_bytes

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        try:
            return self._handle(environ, start_response)
        except DAVError as exc:
            text = exc.context_info if isinstance(exc.context_info, str) else ""
            status = util.get_http_status_string(exc.value)
            return plain_response(start_response, status, f"{status}\n{text}".strip())

    def _handle(self, environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        method = environ.get("REQUEST_METHOD", "")
        parts = [p for p in environ.get("davdrive.upload_path", "").split("/") if p]
        if not parts or len(parts) > 2 or not all(NAME.match(p) or p == ".file" for p in parts):
            raise DAVError(404, "No such upload.")
        if parts[0] == ".file":
            raise DAVError(404, "No such upload.")
        folder = self._user_dir(environ) / parts[0]
        if method == "MKCOL" and len(parts) == 1:
            return self._mkcol(folder, start_response)
        if method == "DELETE" and len(parts) == 1:
            if not folder.is_dir():
                raise DAVError(404, "No such upload.")
            shutil.rmtree(folder, ignore_errors=True)
            return _empty(start_response, "204 No Content")
        if method == "PUT" and len(parts) == 2 and parts[1] != ".file":
            return self._put_chunk(environ, folder, parts[1], start_response)
        if method == "MOVE" and len(parts) == 2 and parts[1] == ".file":
            return self._assemble(environ, folder, start_response)
        raise DAVError(405, f"{method} is not available for uploads in progress.")

    def _user_dir(self, environ: dict[str, Any]) -> Path:
        actor = context_of(environ).actor
        assert actor is not None and actor.user_id is not None
        return self.root / str(actor.user_id)

    def _mkcol(self, folder: Path, start_response: Any) -> Iterable[bytes]:
        self._expire()
        folder.parent.mkdir(parents=True, exist_ok=True)
        if sum(1 for _ in folder.parent.iterdir()) >= MAX_UPLOADS:
            raise DAVError(
                507, f"At most {MAX_UPLOADS} uploads may be in progress; finish or delete one."
            )
        try:
            folder.mkdir()
        except FileExistsError:
            raise DAVError(405, "This upload already exists.") from None
        return _empty(start_response, "201 Created")

    def _expire(self) -> None:
        """Remove every user's uploads untouched for ``EXPIRY_SECONDS``."""
        if not self.root.is_dir():
            return
        limit = time.time() - EXPIRY_SECONDS
        for user_dir in self.root.iterdir():
            for entry in user_dir.iterdir():
                try:
                    stale = entry.stat().st_mtime < limit
                except FileNotFoundError:
                    continue  # removed meanwhile
                if stale:
                    shutil.rmtree(entry, ignore_errors=True)

    def _put_chunk(
        self, environ: dict[str, Any], folder: Path, name: str, start_response: Any
    ) -> Iterable[bytes]:
        if not folder.is_dir():
            raise DAVError(404, "No such upload: start it with MKCOL.")
        raw = environ.get("CONTENT_LENGTH") or ""
        if not raw.isdigit():
            raise DAVError(411, "A chunk needs a Content-Length.")
        length = int(raw)
        used = sum(p.stat().st_size for p in folder.iterdir() if p.name != name)
        if self.max_bytes is not None and used + length > self.max_bytes:
            raise DAVError(413, f"The upload is larger than the limit of {self.max_bytes} bytes.")
        target = folder / name
        fd, tmp = tempfile.mkstemp(dir=folder, prefix=".part-")
        partial = Path(tmp)
        stream = environ["wsgi.input"]
        left = length
        try:
            with os.fdopen(fd, "wb") as out:
                while left > 0:
                    data = stream.read(min(BLOCK, left))
                    if not data:
                        break
                    out.write(data)
                    left -= len(data)
        except OSError:
            partial.unlink(missing_ok=True)
            raise DAVError(507, "Not enough storage for this chunk; nothing was kept.") from None
        if left:
            partial.unlink(missing_ok=True)
            raise DAVError(400, f"Received {length - left} of {length} announced bytes.")
        existed = target.exists()
        partial.replace(target)
        status = "204 No Content" if existed else "201 Created"
        return _empty(start_response, status)

    def _chunks(self, folder: Path) -> list[Path]:
        chunks = [p for p in folder.iterdir() if not p.name.startswith(".")]
        if chunks and all(p.name.isdigit() for p in chunks):
            return sorted(chunks, key=lambda p: int(p.name))
        return sorted(chunks, key=lambda p: p.name)

    def _assemble(
        self, environ: dict[str, Any], folder: Path, start_response: Any
    ) -> Iterable[bytes]:
        if not folder.is_dir():
            raise DAVError(404, "No such upload.")
        dest_path = self.layout.drive_path(environ, environ.get("HTTP_DESTINATION", ""))
        if dest_path is None:
            raise DAVError(400, "The Destination must be a file of this drive.")
        mtime = oc_mtime(environ)
        expected = parse_oc_checksum(environ)
        total_raw = environ.get("HTTP_OC_TOTAL_LENGTH")
        if total_raw is not None and not total_raw.strip().isdigit():
            raise DAVError(400, "Invalid OC-Total-Length header.")
        chunks = self._chunks(folder)
        size = sum(p.stat().st_size for p in chunks)
        if total_raw is not None and int(total_raw) != size:
            raise DAVError(
                400, f"The chunks hold {size} bytes, not the {int(total_raw)} announced."
            )
        drive = context_of(environ).drive
        with dav_errors():
            parts = split_path(dest_path)
            if not parts:
                raise DAVError(409, "The destination must be a file.")
            parent = drive.node_at(parts[:-1])
            if parent is None or not parent.is_folder:
                raise DAVError(409, "The destination folder does not exist.")
            existing = drive.node_at(parts)
            if self.max_bytes is not None and size > self.max_bytes:
                raise TooLarge(f"The upload is larger than the limit of {self.max_bytes} bytes.")
            upload = drive.begin_upload(parent, parts[-1], existing)
        try:
            if expected is not None:  # computed while assembling (sha256 always is)
                upload.writer.also_compute(expected[0])
            self._check_locks(environ, join(parts))
            for chunk in chunks:
                with open(chunk, "rb") as f:
                    while block := f.read(BLOCK):
                        with dav_errors():
                            upload.writer.write(block)
            check_oc_checksum(expected, upload.writer.hexdigests())
            with dav_errors():
                node = drive.finish_upload(upload, mtime=mtime)
        except BaseException:
            upload.writer.abort()
            raise
        shutil.rmtree(folder, ignore_errors=True)
        headers = [("ETag", f'"{node.etag}"'), ("OC-ETag", f'"{node.etag}"'),
                   ("OC-FileId", f"{node.id:08d}davdrive")]
        if mtime is not None:
            headers.append(("X-OC-MTime", "accepted"))
        status = "201 Created" if upload.created else "204 No Content"
        return _empty(start_response, status, headers)

    def _check_locks(self, environ: dict[str, Any], drive_path: str) -> None:
        """423 when a lock held by someone else (or without its token) covers the file."""
        lm = self.provider.lock_manager
        if lm is None:
            return
        if "wsgidav.conditions.if" not in environ:
            util.parse_if_header_dict(environ)
        lm.check_write_permission(
            url=quote(self.provider.share_path + drive_path),
            depth="0",
            token_list=environ.get("wsgidav.ifLockTokenList", []),
            principal=environ.get("wsgidav.auth.user_name"),
        )


def _empty(
    start_response: Any, status: str, headers: list[tuple[str, str]] | None = None
) -> list[bytes]:
    start_response(status, [*(headers or []), ("Content-Length", "0")])
    return [b""]
