"""WsgiDAV resources over drive nodes.

Every change is delegated to ``davdrive.services.Drive`` inside
``dav_errors()``; resources only translate between WsgiDAV's hooks and the
use cases. Properties are in ``provider.node_properties``, PUT bodies in
``provider.uploads``.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any, BinaryIO

from wsgidav import util
from wsgidav.dav_error import DAVError
from wsgidav.dav_provider import DAVCollection, DAVNonCollection, _DAVResource

from davdrive.errors import TooLarge
from davdrive.models import Node
from davdrive.paths import join, split_path
from davdrive.policy import Action
from davdrive.services import Upload
from provider.backoffice_resources import dav_path, resource_for
from provider.context import context_of
from provider.errors import dav_errors, method_key
from provider.file_responses import record_opened
from provider.node_properties import MemberBatch, NodeProperties
from provider.owncloud import parse_oc_checksum
from provider.uploads import (
    MTIME_ACCEPTED,
    PUT_CREATED,
    UploadSink,
    expected_length,
    oc_mtime,
)

ACTIVE_TYPES = (
    "text/html",
    "application/xhtml+xml",
    "image/svg+xml",
    "text/javascript",
    "application/javascript",
    "application/x-javascript",
    "text/xml",
    "application/xml",
    "text/xsl",
)



class _NodeMixin(NodeProperties):
    """Behaviour shared by folders and files: locking, delete, copy, move."""

    def prevent_locking(self) -> bool:
        """A lock is a change: only those who may modify the item lock it.

        A depth-infinity lock on a folder covers everything inside, so it needs
        the right to modify every item inside, seen or not (as rule 7 does for
        delete); a lock held on a hidden item then never answers for it.
        WsgiDAV also asks this when listing lock properties; there the answer
        stays False (the properties describe the item, not the user's rights).
        """
        if self.environ.get("REQUEST_METHOD") == "LOCK":
            deep = self.environ.get("HTTP_DEPTH", "infinity").strip().lower() == "infinity"
            with dav_errors():
                if deep and self.node.is_folder:
                    self.drive.require_subtree(Action.MODIFY, self.node)
                else:
                    self.drive.require(Action.MODIFY, self.node)
        return False

    def set_last_modified(self, dest_path: str, time_stamp: Any, *, dry_run: bool) -> bool:
        if dry_run:
            return True
        with dav_errors():
            self.drive.set_mtime(self.node, float(time_stamp))
        return True

    # --- delete, copy, move ---------------------------------------------------

    def _drop_locks(self) -> None:
        lm = self.provider.lock_manager
        if lm is not None:
            lm.remove_all_locks_from_url(self.get_ref_url(), recursive=True)

    def check_locks(self) -> None:
        """423 if a lock on this item or inside it blocks the actor's change."""
        lm = self.provider.lock_manager
        if lm is not None:
            if "wsgidav.conditions.if" not in self.environ:
                util.parse_if_header_dict(self.environ)
            lm.check_write_permission(
                url=self.get_ref_url(),
                depth="infinity",
                token_list=self.environ.get("wsgidav.ifLockTokenList", []),
                principal=self.environ.get("wsgidav.user_name"),
            )

    def handle_delete(self) -> bool:
        with dav_errors():
            self.drive.delete(self.node, guard=self.check_locks)  # rights, then locks
        self._drop_locks()
        return True

    def _destination(self, dest_path: str) -> tuple[Node, str, _NodeMixin | None]:
        with dav_errors():
            parts = split_path(dest_path)
        parent = self.provider.get_resource_inst(join(parts[:-1]), self.environ)
        if parent is None or not parent.is_collection or not parts:
            raise DAVError(409, "The destination folder does not exist.")
        existing = self.provider.get_resource_inst(join(parts), self.environ)
        return parent.node, parts[-1], existing

    def handle_move(self, dest_path: str) -> bool:
        parent, name, existing = self._destination(dest_path)
        with dav_errors(method_key(self.environ)):
            self.drive.move(self.node, parent, name, existing.node if existing else None)
        self._drop_locks()
        if existing is not None:
            existing._drop_locks()
        self.environ["davdrive.created"] = existing is None
        return True

    def handle_copy(self, dest_path: str, *, depth_infinity: bool) -> bool:
        parent, name, existing = self._destination(dest_path)
        with dav_errors(method_key(self.environ)):
            self.drive.copy(
                self.node, parent, name, existing.node if existing else None, depth_infinity
            )
        if existing is not None:
            existing._drop_locks()
        self.environ["davdrive.created"] = existing is None
        return True

    def support_recursive_move(self, dest_path: str) -> bool:
        return True


class FolderResource(_NodeMixin, DAVCollection):
    def __init__(
        self, path: str, environ: dict[str, Any], node: Node, batch: MemberBatch | None = None
    ) -> None:
        super().__init__(path, environ)
        self.node = node
        self.batch = batch

    def get_member_names(self) -> list[str]:
        return [r.get_display_name() for r in self.get_member_list()]

    def get_member_list(self) -> list[_DAVResource]:
        return [*self._branch(), *self._members(self.drive.children(self.node))]

    def member_batches(self, size: int) -> Iterator[list[_DAVResource]]:
        """``get_member_list`` in the same order, at most about ``size`` members at a
        time; a batch's rows are released when the next one is asked for."""
        branch = self._branch()
        if branch:
            yield branch
        for nodes in self.drive.children_batches(self.node, size):
            yield list(self._members(nodes))

    def _members(self, nodes: Iterable[Node]) -> list[_NodeMixin]:
        """Resources for child nodes, sharing one ``MemberBatch`` (props, locks, owners)."""
        members: list[_NodeMixin] = []
        batch = MemberBatch(self.drive, self.provider, members)
        base = self.path.rstrip("/")
        for child in nodes:
            path = f"{base}/{child.name}"
            res: _NodeMixin
            if child.is_folder:
                res = FolderResource(path, self.environ, child, batch)
            else:
                res = FileResource(path, self.environ, child, batch=batch)
            members.append(res)
        return members

    def _branch(self) -> list[_DAVResource]:
        """The back-office branch, listed in the root when the actor sees some of it."""
        if self.node.parent_id is not None:
            return []
        entry = context_of(self.environ).backoffice.resolve([])
        return [] if entry is None else [resource_for(dav_path(entry), self.environ, entry)]

    def get_member(self, name: str) -> _DAVResource | None:
        return self.provider.get_resource_inst(f"{self.path.rstrip('/')}/{name}", self.environ)

    def create_empty_resource(self, name: str) -> FileResource:
        path = f"{self.path.rstrip('/')}/{name}"
        junk = self.drive.is_junk(name)
        if self.environ.get("REQUEST_METHOD") == "PUT" or junk:
            # Rights now, before WsgiDAV looks at locks on this name; the row is
            # written by end_write, once the content is durable (a junk file's
            # never: it is locked and written as a placeholder, then dropped).
            with dav_errors():
                if junk:
                    self.drive.accept_junk(self.node)
                else:
                    self.drive.check_put_name(self.node, name)
            return FileResource(path, self.environ, None, parent=self.node, name=name)
        with dav_errors():
            node = self.drive.create_empty_file(self.node, name)
        return FileResource(path, self.environ, node)

    def create_collection(self, name: str) -> FolderResource:
        with dav_errors(self.environ.get("REQUEST_METHOD", "")):
            node = self.drive.make_folder(self.node, name)
        return FolderResource(f"{self.path.rstrip('/')}/{name}", self.environ, node)

    def support_recursive_delete(self) -> bool:
        return True

    def delete(self) -> None:
        self.handle_delete()



class FileResource(_NodeMixin, DAVNonCollection):
    def __init__(
        self,
        path: str,
        environ: dict[str, Any],
        node: Node | None,
        *,
        batch: MemberBatch | None = None,
        parent: Node | None = None,
        name: str = "",
    ) -> None:
        super().__init__(path, environ)
        self.node = node  # type: ignore[assignment]  # None while a new PUT is pending
        self.batch = batch
        self._parent = parent
        self._upload: Upload | None = None

    def get_content_length(self) -> int | None:
        return self.node.size if self.node is not None else None

    def get_content_type(self) -> str | None:
        return self.node.content_type if self.node is not None else None

    def get_etag(self) -> str | None:
        return self.node.etag if self.node is not None else None

    def support_etag(self) -> bool:
        return True

    def support_ranges(self) -> bool:
        return True

    def get_content(self) -> BinaryIO:
        with dav_errors():
            return record_opened(self.environ, self.drive.open_content(self.node))

    def begin_write(self, *, content_type: str | None = None) -> UploadSink:
        expected = expected_length(self.environ)
        oc_mtime(self.environ)
        checksum = parse_oc_checksum(self.environ)
        limit = self.drive.options.max_upload_bytes
        with dav_errors():
            if expected is not None and limit is not None and expected > limit:
                raise TooLarge(f"The upload is larger than the limit of {limit} bytes.")
            self._upload = self.drive.begin_upload(
                self._parent if self._parent is not None else self.node,
                self.name,
                self.node,
                expected=expected,
            )
        return UploadSink(self._upload, expected, checksum)

    def end_write(self, *, with_errors: bool) -> None:
        upload, self._upload = self._upload, None
        if upload is None:
            return
        if with_errors or upload.dropped:
            upload.writer.abort()
            return
        with dav_errors():
            mtime = oc_mtime(self.environ)
            try:
                self.node = self.drive.finish_upload(upload, mtime=mtime)
            except BaseException:
                upload.writer.abort()
                raise
        self.environ[MTIME_ACCEPTED] = mtime is not None
        self.environ[PUT_CREATED] = upload.created

    def finalize_headers(self, environ: dict[str, Any], response_headers: list[Any]) -> None:
        response_headers.extend(content_headers(self.get_content_type(), self.get_display_name()))


def content_headers(content_type: str | None, name: str) -> list[tuple[str, str]]:
    """Headers every file body is sent with: no sniffing; active content (HTML, SVG,
    scripts, XML) only as a sandboxed download, never rendered in the drive's origin."""
    headers = [("X-Content-Type-Options", "nosniff")]
    ctype = (content_type or "").split(";")[0].strip().lower()
    if ctype in ACTIVE_TYPES or ctype.endswith("+xml"):
        quoted = util.quote(name)
        headers.append(("Content-Disposition", f"attachment; filename*=UTF-8''{quoted}"))
        headers.append(("Content-Security-Policy", "default-src 'none'; sandbox"))
    return headers
