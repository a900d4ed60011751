"""WsgiDAV resources over drive nodes.

Every change is delegated to ``davdrive.services.Drive`` inside
``dav_errors()``; resources only translate between WsgiDAV's hooks and the
use cases. Dead properties live in SQL keyed by node, and lock discovery for
the members of a folder is loaded in one query per listing (``MemberBatch``),
so a PROPFIND Depth 1 costs a fixed number of statements.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator
from typing import Any, BinaryIO

from lxml import etree
from wsgidav import util, xml_tools
from wsgidav.dav_error import HTTP_FORBIDDEN, DAVError
from wsgidav.dav_provider import DAVCollection, DAVNonCollection, _DAVResource
from wsgidav.lock_man.lock_manager import normalize_lock_root

from davdrive.errors import BadRequest, IncompleteUpload, ReadOnlyProperty, TooLarge
from davdrive.models import Node
from davdrive.paths import join, split_path
from davdrive.policy import Action
from davdrive.services import Drive, Upload
from provider.backoffice_resources import dav_path, resource_for
from provider.context import context_of
from provider.errors import contained_errors, dav_errors
from provider.proppatch import APPLY_FAILED

LOCK_PROPS = ("{DAV:}lockdiscovery", "{DAV:}supportedlock")
NS = "urn:davdrive"
# Live properties of DESIGN 6, returned when asked for by name (not in allprop).
DRIVE_PROPS = tuple(
    f"{{{NS}}}{name}"
    for name in ("degree", "doc-type", "visibility", "owner", "protected", "effective-access")
)
# Content types a browser would run: served as attachments under a strict CSP.
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


class MemberBatch:
    """Dead properties and direct locks of a folder's members, loaded once on demand."""

    def __init__(self, drive: Drive, provider: Any, resources: list[_NodeMixin]) -> None:
        self._drive = drive
        self._provider = provider
        self._resources = resources
        self._props: dict[int, dict[str, str]] | None = None
        self._locks: dict[str, list[dict[str, Any]]] | None = None
        self._owners: dict[int, str] | None = None

    def owner_login(self, owner_id: int) -> str:
        if self._owners is None:
            self._owners = self._drive.owner_logins(r.node.owner_id for r in self._resources)
        return self._owners.get(owner_id, "")

    def props(self, node_id: int) -> dict[str, str]:
        if self._props is None:
            self._props = self._drive.dead_properties(r.node.id for r in self._resources)
        return self._props.get(node_id, {})

    def locks(self, root: str) -> list[dict[str, Any]]:
        if self._locks is None:
            roots = [r.lock_root() for r in self._resources]
            self._locks = self._provider.lock_manager.storage.locks_for_roots(roots)
        return self._locks.get(root, [])


class _NodeMixin(_DAVResource):
    """Behaviour shared by folders and files."""

    node: Node
    batch: MemberBatch | None

    @property
    def drive(self) -> Drive:
        return context_of(self.environ).drive

    # --- live properties ------------------------------------------------------

    def get_creation_date(self) -> float | None:
        return self.node.created_at.timestamp() if self.node is not None else None

    def get_last_modified(self) -> float | None:
        return self.node.mtime if self.node is not None else None

    def get_display_name(self) -> str:
        return self.node.name if self.node is not None else self.name

    def lock_root(self) -> str:
        return normalize_lock_root(self.get_ref_url())

    # --- dead and lock properties (batched) -----------------------------------

    def _dead_props(self) -> dict[str, str]:
        if self.node is None:
            return {}
        if self.batch is not None:
            return self.batch.props(self.node.id)
        return self.drive.dead_properties([self.node.id])[self.node.id]

    def _direct_locks(self) -> list[dict[str, Any]]:
        lm = self.provider.lock_manager
        if self.batch is not None:
            locks = self.batch.locks(self.lock_root())
        else:
            locks = lm.get_url_lock_list(self.get_ref_url())
        now = time.time()
        return [lk for lk in locks if lk["expire"] < 0 or lk["expire"] >= now]

    def get_property_names(self, *, is_allprop: bool) -> list[str]:
        names: list[str] = super().get_property_names(is_allprop=is_allprop)
        if not is_allprop and self.node is not None:
            names.extend(DRIVE_PROPS)
        names.extend(self._dead_props().keys())
        return names

    def get_property_value(self, name: str) -> Any:
        if name == "{DAV:}lockdiscovery" and self.provider.lock_manager:
            return self._lock_discovery()
        if name.startswith("{DAV:}"):
            return super().get_property_value(name)
        if name in DRIVE_PROPS and self.node is not None:
            element = etree.Element(name)
            element.text = self._drive_prop(name.split("}", 1)[1])
            return element
        value = self._dead_props().get(name)
        if value is None:
            raise DAVError(404)
        return xml_tools.string_to_xml(value)

    def _drive_prop(self, local: str) -> str:
        node = self.node
        if local == "degree":
            return str(node.min_degree)
        if local == "doc-type":
            return node.doc_type or ""
        if local == "visibility":
            return node.visibility
        if local == "protected":
            return "true" if node.protected else "false"
        if local == "owner":
            return self._owner_login()
        return " ".join(action.value for action in self.drive.allowed_actions(node))

    def _owner_login(self) -> str:
        owner_id = self.node.owner_id
        if owner_id is None:
            return "system"
        if self.batch is not None:
            return self.batch.owner_login(owner_id)
        return self.drive.owner_logins([owner_id]).get(owner_id, "")

    def _lock_discovery(self) -> Any:
        """RFC 4918 lockdiscovery; another user's lock token is never shown."""
        user = self.environ.get("wsgidav.user_name")
        root_el = etree.Element("{DAV:}lockdiscovery")
        for lock in self._direct_locks():
            active = etree.SubElement(root_el, "{DAV:}activelock")
            etree.SubElement(etree.SubElement(active, "{DAV:}locktype"), "{DAV:}" + lock["type"])
            etree.SubElement(etree.SubElement(active, "{DAV:}lockscope"), "{DAV:}" + lock["scope"])
            etree.SubElement(active, "{DAV:}depth").text = lock["depth"]
            if lock["owner"]:
                active.append(xml_tools.string_to_xml(lock["owner"]))
            timeout = lock["timeout"]
            etree.SubElement(active, "{DAV:}timeout").text = (
                "Infinite" if timeout < 0 else f"Second-{int(lock['expire'] - time.time())}"
            )
            if lock["principal"] == user:
                token_el = etree.SubElement(active, "{DAV:}locktoken")
                etree.SubElement(token_el, "{DAV:}href").text = lock["token"]
            root_href = etree.SubElement(active, "{DAV:}lockroot")
            etree.SubElement(root_href, "{DAV:}href").text = self.get_href()
        return root_el

    def set_property_value(self, name: str, value: Any, *, dry_run: bool = False) -> Any:
        """PROPPATCH of one property; dry runs add up to the node's limits (507)."""
        try:
            self._set_property(name, value, dry_run)
        except BaseException:
            if not dry_run:
                self.environ[APPLY_FAILED] = True
            raise

    def _set_property(self, name: str, value: Any, dry_run: bool) -> Any:
        if name in LOCK_PROPS or name.startswith("{DAV:}"):
            return super().set_property_value(name, value, dry_run=dry_run)
        if self.node is None:
            raise DAVError(HTTP_FORBIDDEN)
        with contained_errors():
            if name in DRIVE_PROPS:
                self._set_drive_prop(name.split("}", 1)[1], value, dry_run)
                return None
            if name.startswith(f"{{{NS}}}"):
                raise ReadOnlyProperty(f"{name} is not a property of this drive.")
            text = None if value is None else etree.tostring(value).decode("utf-8")
            self.drive.set_dead_property(self.node, name, text, dry_run)
        return None

    def _set_drive_prop(self, local: str, value: Any, dry_run: bool) -> None:
        """PROPPATCH of a urn:davdrive property; removing one restores its default."""
        text = None if value is None else "".join(value.itertext()).strip()
        drive, node = self.drive, self.node
        if local == "degree":
            if text is not None and not (text.isascii() and text.isdigit()):
                raise BadRequest("The degree is a whole number, 0 or more.")
            degree = int(text) if text else 0
            drive.set_classification(node, min_degree=degree, dry_run=dry_run)
        elif local == "doc-type":
            drive.set_classification(node, doc_type=text or None, dry_run=dry_run)
        elif local == "visibility":
            drive.set_visibility(node, text or "shared", dry_run=dry_run)
        else:
            raise ReadOnlyProperty(
                f"{{{NS}}}{local} is computed by the drive and cannot be changed over WebDAV."
            )

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
        with dav_errors():
            self.drive.move(self.node, parent, name, existing.node if existing else None)
        self._drop_locks()
        if existing is not None:
            existing._drop_locks()
        self.environ["davdrive.created"] = existing is None
        return True

    def handle_copy(self, dest_path: str, *, depth_infinity: bool) -> bool:
        parent, name, existing = self._destination(dest_path)
        with dav_errors():
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
        if self.environ.get("REQUEST_METHOD") == "PUT":
            # Rights now, before WsgiDAV looks at locks on this name; the row is
            # written by end_write, once the content is durable.
            with dav_errors():
                self.drive.check_create(self.node, name)
            return FileResource(path, self.environ, None, parent=self.node, name=name)
        with dav_errors():
            node = self.drive.create_empty_file(self.node, name)
        return FileResource(path, self.environ, node)

    def create_collection(self, name: str) -> FolderResource:
        with dav_errors():
            node = self.drive.make_folder(self.node, name)
        return FolderResource(f"{self.path.rstrip('/')}/{name}", self.environ, node)

    def support_recursive_delete(self) -> bool:
        return True

    def delete(self) -> None:
        self.handle_delete()


class _UploadSink:
    """File-like object for WsgiDAV's PUT loop; refuses a short or oversized body."""

    def __init__(self, upload: Upload, expected: int | None) -> None:
        self.upload = upload
        self.expected = expected

    def write(self, data: bytes) -> int:
        with dav_errors():
            return self.upload.writer.write(data)

    def close(self) -> None:
        size = self.upload.writer.size
        if self.expected is not None and size != self.expected:
            with dav_errors():
                raise IncompleteUpload(
                    f"Received {size} of {self.expected} announced bytes; nothing was stored."
                )


def _expected_length(environ: dict[str, Any]) -> int | None:
    for key in ("CONTENT_LENGTH", "HTTP_X_EXPECTED_ENTITY_LENGTH"):
        raw = environ.get(key)
        if raw not in (None, ""):
            try:
                value = int(raw)
            except ValueError:
                raise DAVError(400, f"Invalid {key} header.") from None
            if value < 0:
                raise DAVError(400, f"Invalid {key} header.")
            if "chunked" in environ.get("HTTP_TRANSFER_ENCODING", "").lower() and key == (
                "CONTENT_LENGTH"
            ):
                continue
            return value
    return None


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
            return self.drive.open_content(self.node)

    def begin_write(self, *, content_type: str | None = None) -> _UploadSink:
        expected = _expected_length(self.environ)
        _oc_mtime(self.environ)
        limit = self.drive.options.max_upload_bytes
        with dav_errors():
            if expected is not None and limit is not None and expected > limit:
                raise TooLarge(f"The upload is larger than the limit of {limit} bytes.")
            self._upload = self.drive.begin_upload(
                self._parent if self._parent is not None else self.node,
                self.name,
                self.node,
            )
        return _UploadSink(self._upload, expected)

    def end_write(self, *, with_errors: bool) -> None:
        upload, self._upload = self._upload, None
        if upload is None:
            return
        if with_errors:
            upload.writer.abort()
            return
        with dav_errors():
            try:
                self.node = self.drive.finish_upload(upload, mtime=_oc_mtime(self.environ))
            except BaseException:
                upload.writer.abort()
                raise

    def finalize_headers(self, environ: dict[str, Any], response_headers: list[Any]) -> None:
        response_headers.append(("X-Content-Type-Options", "nosniff"))
        ctype = (self.get_content_type() or "").split(";")[0].strip().lower()
        if ctype in ACTIVE_TYPES or ctype.endswith("+xml"):
            quoted = util.quote(self.get_display_name())
            response_headers.append(
                ("Content-Disposition", f"attachment; filename*=UTF-8''{quoted}")
            )
            response_headers.append(
                ("Content-Security-Policy", "default-src 'none'; sandbox")
            )


MAX_OC_MTIME = 253402300799  # 9999-12-31T23:59:59Z


def _oc_mtime(environ: dict[str, Any]) -> float | None:
    """The client's modification time (``X-OC-Mtime``, Unix seconds), if sent.

    Raises a 400 for anything but plain decimal digits within year 9999, so a
    bad header is refused before the body is read rather than after storing it.
    """
    raw = environ.get("HTTP_X_OC_MTIME")
    if raw is None:
        return None
    raw = raw.strip()
    if not (raw.isascii() and raw.isdigit() and int(raw) <= MAX_OC_MTIME):
        raise DAVError(400, "Invalid X-OC-Mtime header: expected Unix seconds.")
    return float(raw)
