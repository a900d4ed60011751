"""The properties of drive items over WebDAV: live, urn:davdrive, dead and locks.

``NodeProperties`` answers PROPFIND and applies PROPPATCH for a folder or file
resource; ``MemberBatch`` loads the dead properties, owners and direct locks
of a folder's members in one query each, so a listing costs a fixed number of
statements.
"""

from __future__ import annotations

import time
from typing import Any

from lxml import etree
from wsgidav import xml_tools
from wsgidav.dav_error import HTTP_FORBIDDEN, DAVError
from wsgidav.dav_provider import _DAVResource
from wsgidav.lock_man.lock_manager import normalize_lock_root

from davdrive.errors import BadRequest, ReadOnlyProperty
from davdrive.models import Node
from davdrive.policy import Action
from davdrive.services import Drive
from provider import win32_times
from provider.context import context_of
from provider.errors import contained_errors, quoted_etag
from provider.nextcloud_layout import layout_href
from provider.owncloud import OC_PROPS, OC_WRITABLE, oc_property, oc_proppatch
from provider.proppatch import APPLY_FAILED

LOCK_PROPS = ("{DAV:}lockdiscovery", "{DAV:}supportedlock")
# RFC 4331: returned when asked for by name or propname, not in allprop.
QUOTA_PROPS = ("{DAV:}quota-available-bytes", "{DAV:}quota-used-bytes")
NS = "urn:davdrive"
# Live properties of DESIGN 6, returned when asked for by name (not in allprop).
DRIVE_PROPS = tuple(
    f"{{{NS}}}{name}"
    for name in ("degree", "doc-type", "visibility", "owner", "protected", "effective-access")
)


def quota_value(resource: Any, name: str) -> str:
    """RFC 4331 figure of the signed-in user, on folders; 404 elsewhere."""
    if not resource.is_collection or getattr(resource, "node", None) is None:
        raise DAVError(404)
    figures = context_of(resource.environ).drive.quota_figures
    return str(figures.used if name == QUOTA_PROPS[1] else figures.available)


class MemberBatch:
    """Dead properties and direct locks of a folder's members, loaded once on demand."""

    def __init__(self, drive: Drive, provider: Any, resources: list[NodeProperties]) -> None:
        self._drive = drive
        self._provider = provider
        self._resources = resources
        self._props: dict[int, dict[str, str]] | None = None
        self._locks: dict[str, list[dict[str, Any]]] | None = None
        self._owners: dict[int, str] | None = None
        self._blobs: dict[str, Any] | None = None

    def blob(self, sha256: str | None) -> Any:
        if self._blobs is None:
            self._blobs = self._drive.blob_infos(r.node.blob_sha256 for r in self._resources)
        return self._blobs.get(sha256 or "")

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



class NodeProperties(_DAVResource):
    """Properties shared by folders and files (``node`` is None for a pending PUT)."""

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

    def get_href(self) -> str:
        """The href under the prefix the client used (``/dav/`` or Nextcloud's layout)."""
        return layout_href(self.environ, super().get_href(), self.provider.share_path)

    def lock_root(self) -> str:
        return normalize_lock_root(self.get_ref_url())

    # --- dead and lock properties (batched) -----------------------------------

    def _dead_props(self) -> dict[str, str]:
        if self.node is None:
            return {}
        if self.batch is not None:
            props = self.batch.props(self.node.id)
        else:
            props = self.drive.dead_properties([self.node.id])[self.node.id]
        if any(name in props for name in win32_times.TIME_PROPS):  # stored before mapping
            props = {k: v for k, v in props.items() if k not in win32_times.TIME_PROPS}
        return props

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
            if self.is_collection:
                names.extend(QUOTA_PROPS)
            names.extend(OC_PROPS)
        names.extend(self._dead_props().keys())
        return names

    def get_property_value(self, name: str) -> Any:
        if name == "{DAV:}lockdiscovery" and self.provider.lock_manager:
            return self._lock_discovery()
        if name in QUOTA_PROPS:
            return quota_value(self, name)
        if name == "{DAV:}getetag" and self.get_etag() is not None:
            return quoted_etag(self.get_etag())
        if name.startswith("{DAV:}"):
            return super().get_property_value(name)
        if name in win32_times.TIME_PROPS and self.node is not None:
            return win32_times.value_element(name, self.node)
        if name in DRIVE_PROPS and self.node is not None:
            element = etree.Element(name)
            element.text = self._drive_prop(name.split("}", 1)[1])
            return element
        if name in OC_PROPS and self.node is not None:
            return self._oc_prop(name)
        value = self._dead_props().get(name)
        if value is None:
            raise DAVError(404)
        return xml_tools.string_to_xml(value)

    def _oc_prop(self, name: str) -> Any:
        node = self.node
        blob = None
        if name.endswith("}checksums") and not node.is_folder:
            if self.batch is not None:
                blob = self.batch.blob(node.blob_sha256)
            else:
                blob = self.drive.blob_info(node)
        allowed = self.drive.allowed_actions(node) if name.endswith("}permissions") else []
        return oc_property(name, node, blob, allowed)

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
        if name in OC_WRITABLE and self.node is not None:
            with contained_errors():
                oc_proppatch(self.drive, self.node, name, value, dry_run)
            return None
        if name in LOCK_PROPS or name.startswith("{DAV:}"):
            return super().set_property_value(name, value, dry_run=dry_run)
        if self.node is None:
            raise DAVError(HTTP_FORBIDDEN)
        with contained_errors():
            if name in DRIVE_PROPS:
                self._set_drive_prop(name.split("}", 1)[1], value, dry_run)
                return None
            if name in win32_times.TIME_PROPS:
                if value is None:  # removing a time: nothing to remove
                    self.drive.require(Action.MODIFY, self.node)
                    return None
                stamp = win32_times.parse(name, value)
                key = "modified" if name == win32_times.MODIFIED else "created"
                self.drive.set_times(self.node, dry_run=dry_run, **{key: stamp})
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

