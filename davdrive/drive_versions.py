"""Previous versions of a file: listed and restored, never shown over WebDAV.

An overwrite keeps the content it replaces as a ``NodeVersion`` (at most
``storage.versions`` per file; ``DriveWriting._keep_version``). Restoring one
makes its content the file's current one, and the current content becomes a
version in turn: nothing is lost, and the ETag (the content hash) changes
with the content. Both need the policy's ``modify`` on the file: its owner
with folder right ``write``, a folder manager, a document administrator (not
on a protected file), or the system.
"""

from __future__ import annotations

import datetime as dt
import time
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select

from davdrive.drive_moving import DriveMoving
from davdrive.errors import BadRequest, NotFound
from davdrive.models import Node, NodeVersion, User, utcnow
from davdrive.policy import Action


@dataclass(frozen=True)
class VersionEntry:
    """A previous content of a file, as ``version list`` shows it."""

    id: int
    size: int
    sha256: str
    content_type: str
    mtime: float  # the file's modification time while this was its content
    replaced_at: dt.datetime
    replaced_by: str  # a login, "system", or "#id" for a removed account

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id, "size": self.size, "sha256": self.sha256,
            "content_type": self.content_type, "mtime": self.mtime,
            "replaced_at": self.replaced_at.isoformat(), "replaced_by": self.replaced_by,
        }


class DriveVersions(DriveMoving):
    """Listing and restoring a file's previous versions."""

    def versions(self, node: Node) -> list[VersionEntry]:
        """The previous versions of file ``node``, newest first (``modify`` right)."""
        self._require_versions(node)
        rows = self.session.execute(
            select(NodeVersion, User.login)
            .outerjoin(User, User.id == NodeVersion.replaced_by)
            .where(NodeVersion.node_id == node.id)
            .order_by(NodeVersion.id.desc())
        )
        entries = []
        for version, login in rows:
            when = version.replaced_at
            by = login or ("system" if version.replaced_by is None else f"#{version.replaced_by}")
            entries.append(VersionEntry(
                id=version.id, size=version.size, sha256=version.blob_sha256,
                content_type=version.content_type, mtime=version.mtime,
                replaced_at=when if when.tzinfo else when.replace(tzinfo=dt.UTC),
                replaced_by=by,
            ))
        return entries

    def restore_version(self, node: Node, version_id: int) -> Node:
        """Make version ``version_id`` of file ``node`` its current content; the current
        content becomes a version (unless identical). The file's modification time is
        now (a sync client then fetches it). Needs ``modify``; the room is checked as
        for an upload (507 past a quota); audited (``version.restore``)."""
        self._require_versions(node)
        version = self.session.get(NodeVersion, version_id)
        if version is None or version.node_id != node.id:
            raise NotFound(f"No version {version_id} of {self.path(node)}.")
        self.check_room(node, version.size, on_disk=False, what="restore")
        self._hold_parent(self._parent_of(node))
        self._claim(node)
        version = self.session.get(NodeVersion, version_id, populate_existing=True)
        if version is None:  # restored or pruned by another request meanwhile
            self._undo()
            raise NotFound(f"No version {version_id} of {self.path(node)}.")
        sha256, size, content_type = version.blob_sha256, version.size, version.content_type
        self.session.delete(version)
        self.session.flush()
        if node.blob_sha256 != sha256:
            self._keep_version(node)
        node.blob_sha256, node.size, node.content_type = sha256, size, content_type
        node.mtime = time.time()
        node.updated_at = utcnow()
        self.session.flush()
        self._audit("version.restore", node,
                    detail=f"version {version_id}: {size} bytes sha256={sha256}")
        self._commit()
        return node

    def _require_versions(self, node: Node) -> None:
        self.require(Action.MODIFY, node)
        if node.is_folder:
            raise BadRequest(f"{self.path(node)} is a folder: only files have versions.")

    def _parent_of(self, node: Node) -> Node:
        parent = self.session.get(Node, node.parent_id) if node.parent_id is not None else None
        assert parent is not None, "a file always has a parent folder"
        return parent
