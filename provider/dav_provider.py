"""The WsgiDAV provider: maps request paths onto visible drive nodes."""

from __future__ import annotations

import threading
from typing import Any
from urllib.parse import unquote, urlsplit

from wsgidav.dav_provider import DAVProvider, _DAVResource

from davdrive.backoffice import BRANCH
from davdrive.errors import BadRequest
from davdrive.paths import join, name_key, split_path
from provider.backoffice_resources import READ_ONLY, dav_path, resource_for
from provider.context import context_of
from provider.errors import dav_errors, plain_response
from provider.propfind import streaming_propfind, wsgidav_propfind
from provider.proppatch import proppatch_in_one_transaction
from provider.resources import FileResource, FolderResource
from provider.rights_first import check_copy_move, check_delete, check_put
from provider.uploads import oc_mtime_headers, put_status

WRITE_METHODS = frozenset(
    {"PUT", "DELETE", "MKCOL", "COPY", "MOVE", "PROPPATCH", "LOCK", "UNLOCK"}
)

# GET/HEAD on a folder (webdavclient3 checks folders with HEAD): a one-line text.
FOLDER_TEXT = "This is a folder of the drive; open it with a WebDAV client."


class DriveProvider(DAVProvider):
    """Resolves paths through the actor's ``Drive``: invisible means absent (None).

    ``stream_propfind``: answer PROPFIND Depth 0/1 of drive items as a stream
    (``provider.propfind``) instead of WsgiDAV's all-in-memory answer.

    LOCK requests are answered one at a time in a process (they are short): a
    LOCK on an unmapped URL creates an empty file, then locks it, and no other
    LOCK may take the new file in between (its creator would get 423 and no
    201). That ordering is all it is for: exclusivity itself is enforced by
    the database (``SqlLockStorage.create``), across processes too.
    """

    def __init__(self, *, stream_propfind: bool = True) -> None:
        super().__init__()
        self.stream_propfind = stream_propfind
        self._one_lock_request = threading.Lock()

    def is_readonly(self) -> bool:
        return False

    def get_resource_inst(self, path: str, environ: dict[str, Any]) -> _DAVResource | None:
        if path is None:  # WsgiDAV asks for the parent of the root
            return None
        with dav_errors():
            parts = split_path(path)
        if parts and name_key(parts[0]) == BRANCH:
            entry = context_of(environ).backoffice.resolve(parts[1:])
            return None if entry is None else resource_for(dav_path(entry), environ, entry)
        drive = context_of(environ).drive
        node = drive.node_at(parts)
        canonical = join(parts)
        if node is None:
            if environ.get("REQUEST_METHOD") == "UNLOCK" and parts and drive.is_junk(parts[-1]):
                return self._junk_placeholder(parts, environ)
            return None
        if node.is_folder:
            return FolderResource(canonical, environ, node)
        return FileResource(canonical, environ, node)

    def _junk_placeholder(self, parts: list[str], environ: dict[str, Any]) -> Any:
        """A junk file (never stored) as a resource, so that its lock can be released."""
        parent = context_of(environ).drive.node_at(parts[:-1])
        if parent is None or not parent.is_folder:
            return None
        return FileResource(join(parts), environ, None, parent=parent, name=parts[-1])

    def _delete_junk(self, environ: dict[str, Any], start_response: Any) -> Any:
        """DELETE of a junk file in a visible folder: 204, there is nothing to delete
        (Finder removes a file's ``._`` companion with it). None otherwise."""
        try:
            parts = split_path(environ.get("PATH_INFO", ""))
        except BadRequest:
            return None
        drive = context_of(environ).drive
        if not parts or not drive.is_junk(parts[-1]) or drive.node_at(parts) is not None:
            return None
        placeholder = self._junk_placeholder(parts, environ)
        if placeholder is None:
            return None
        placeholder._drop_locks()
        start_response("204 No Content", [("Content-Length", "0")])
        return [b""]

    def custom_request_handler(
        self, environ: dict[str, Any], start_response: Any, default_handler: Any
    ) -> Any:
        """Refuse writes in the back-office branch at once; stream PROPFIND answers;
        answer GET/HEAD on a folder with 200 and one line of text;
        run a PROPPATCH as one transaction; answer 201 (not 204) when a COPY or MOVE
        created its destination."""
        method = environ.get("REQUEST_METHOD")
        if method == "PROPFIND":
            if self.stream_propfind:
                return streaming_propfind(self, environ, start_response, default_handler)
            return wsgidav_propfind(default_handler, environ, start_response)
        if method in WRITE_METHODS and self._writes_into_branch(environ):
            return plain_response(start_response, "403 Forbidden", f"403 Forbidden\n{READ_ONLY}")
        if method in ("GET", "HEAD"):
            res = self.get_resource_inst(environ.get("PATH_INFO", ""), environ)
            if res is not None and res.is_collection:
                return plain_response(start_response, "200 OK", FOLDER_TEXT)
        if method == "DELETE":
            dropped = self._delete_junk(environ, start_response)
            if dropped is not None:
                return dropped
            check_delete(self, environ)  # rights before locks (rule 4)
        elif method == "PUT":
            check_put(self, environ)

            def _put_response(status: str, headers: list[Any], exc_info: Any = None) -> Any:
                status = put_status(environ, status)
                return start_response(status, oc_mtime_headers(environ, status, headers), exc_info)

            return default_handler(environ, _put_response)
        elif method == "PROPPATCH":
            return proppatch_in_one_transaction(environ, start_response, default_handler)
        elif method == "LOCK":
            with self._one_lock_request:
                return default_handler(environ, start_response)
        if method not in ("COPY", "MOVE"):
            return default_handler(environ, start_response)
        check_copy_move(self, environ)  # rights before locks (rule 4)

        def _start_response(status: str, headers: list[Any], exc_info: Any = None) -> Any:
            if status.startswith("204") and environ.get("davdrive.created"):
                status = "201 Created"
            return start_response(status, headers, exc_info)

        return default_handler(environ, _start_response)

    def _writes_into_branch(self, environ: dict[str, Any]) -> bool:
        """True when a write targets something of the branch the actor sees (the item,
        or the folder that would receive it), as source or as COPY/MOVE destination.
        What the actor does not see is left to the usual flow: 404, like a missing path."""
        targets = [environ.get("PATH_INFO", "")]
        destination = environ.get("HTTP_DESTINATION")
        if destination and environ.get("REQUEST_METHOD") in ("COPY", "MOVE"):
            if self.get_resource_inst(targets[0], environ) is None:
                return False  # the source decides first: 404
            targets.append(urlsplit(destination).path)
        mount = environ.get("SCRIPT_NAME", "")
        for target in targets:
            path = unquote(target)
            if target is not targets[0] and mount and path.startswith(mount):
                path = path[len(mount):]
            try:
                parts = split_path(path)
            except BadRequest:
                continue  # the usual flow refuses it with its own message
            if len(parts) < 2 or name_key(parts[0]) != BRANCH:
                continue
            backoffice = context_of(environ).backoffice
            if backoffice.resolve(parts[1:]) or backoffice.resolve(parts[1:-1]):
                return True
        return False
