"""Creating and changing items: folders, uploads, versions, dead properties."""

from __future__ import annotations

import datetime as dt
import hashlib
import time
from functools import cached_property
from typing import Any

from sqlalchemy import delete, select

from davdrive import inline_blobs, quota, tree
from davdrive.blob_backend import BlobInfo
from davdrive.blob_settling import settles_blob
from davdrive.conflicts import ensure_blob_row
from davdrive.db import release_connection
from davdrive.deadprops import PropertyPlan
from davdrive.drive_base import (
    Upload,
    guess_content_type,
)
from davdrive.drive_reading import DriveReading
from davdrive.errors import Conflict, CreatedMeanwhile
from davdrive.models import (
    Node,
    NodeVersion,
    utcnow,
)
from davdrive.paths import name_key
from davdrive.policy import Action
from davdrive.quota import QuotaFigures

EMPTY_BLOB = BlobInfo(hashlib.sha256(b"").hexdigest(), None, None, 0)
# A 0-byte file its writer replaces within this time keeps no version (Explorer,
# Word and Finder write 0 bytes first, then the content).
EMPTY_SAVE_SECONDS = 60


class DriveWriting(DriveReading):
    """New folders and files, uploads, modification times and dead properties."""

    def make_folder(self, parent: Node, name: str) -> Node:
        name = self.check_create(parent, name)
        with self.creating(parent, name):
            self._hold_parent(parent)
            self._refuse_taken(parent, name)
            node = self._new_node(parent, name, "folder")
            self.session.flush()
            self._audit("mkcol", node)
            self._commit()
        return node

    def create_empty_file(self, parent: Node, name: str) -> Node:
        """A new empty file (LOCK on an unmapped URL)."""
        name = self.check_create(parent, name)
        info = EMPTY_BLOB
        with self.creating(parent, name):
            self._hold_parent(parent)
            self._refuse_taken(parent, name)
            ensure_blob_row(self.session, info)
            inline_blobs.store(self.session, info, b"")  # no file to place or to lose
            node = self._new_node(
                parent, name, "file", blob_sha256=info.sha256, size=0,
                content_type=guess_content_type(name),
            )
            self.session.flush()
            self._audit("create", node)
            self._commit()
        return node

    def settle_walk(self, parts: list[str], rows: list[Any]) -> None:
        """Take a walk of ``parts`` the caller ran on Core rows (``tree.walk_rows``) as
        ``chain`` would have run it: ``node_at`` on the path or a prefix then asks
        no SQL of its own."""
        key = tuple(name_key(p) for p in parts)
        if key not in self._chains:
            self._settle(key, tree.adopt(self.session, rows))

    def begin_upload(
        self, parent: Node, name: str, existing: Node | None, *, expected: int | None = None
    ) -> Upload:
        """Check the rights (then, for an ``expected`` length, the quotas and the free
        disk space) for a PUT and open a blob writer (a junk file's upload is read
        and dropped: see ``Upload.dropped``).

        The read transaction ends here: the body then streams to a temporary
        blob file with no DB connection checked out (a slow client must not
        hold one); ``finish_upload`` opens a new transaction.
        """
        parent, name, dropped = self.check_upload(parent, name, existing, expected=expected)
        placement = self.placement(parent)
        writer = self.blobs.writer(self.options.max_upload_bytes)
        release_connection(self.session)
        return Upload(parent, name, existing, writer, dropped=dropped, placement=placement)

    def check_upload(
        self, parent: Node, name: str, existing: Node | None, *, expected: int | None = None
    ) -> tuple[Node, str, bool]:
        """The checks of ``begin_upload``: (the folder, the name the file gets, whether it
        is a junk file, dropped), or the error refusing the upload."""
        dropped = existing is None and self.is_junk(name)
        if existing is not None:
            if existing.is_folder:
                raise Conflict("A folder cannot be overwritten by a file.")
            self.require(Action.MODIFY, existing)
            if existing.parent_id is not None:  # the caller may pass the file itself
                parent = self.session.get(Node, existing.parent_id) or parent
            name = existing.name
        elif dropped:
            self.accept_junk(parent)
        else:
            name = self.check_put_name(parent, name)
        if expected is not None:
            self.check_room(existing, expected, on_disk=True)
        return parent, name, dropped

    def check_put_name(self, parent: Node, name: str) -> str:
        """``check_create`` for a PUT of a new name, except that a file another request
        created under the name since the lookup is no refusal when the actor may
        modify it: the upload then overwrites it, as a PUT coming just after would
        (``_upload_target`` decides at the commit)."""
        try:
            return self.check_create(parent, name)
        except CreatedMeanwhile:
            holder = tree.child_named(self.session, parent.id, name, fresh=True)
            if holder is None or holder.is_folder or not self.decide(Action.MODIFY, holder):
                raise
            return holder.name

    @settles_blob
    def finish_upload(
        self, upload: Upload, content_type: str | None = None, mtime: float | None = None
    ) -> Node:
        """Make the blob durable, then commit the row pointing at it (content of at most
        ``inline_blob_bytes`` goes into that same commit: ``davdrive.inline_blobs``).
        Under the write lock, before that commit, the blob file is put back if a
        garbage collection removed it meanwhile (``BlobWriting.ensure_placed``).

        The quotas are checked again on the bytes received (a chunked body
        announces no length): past one, ``QuotaExceeded`` and nothing stored.
        The commit transaction first takes the write lock, then re-reads what the
        upload depends on: the parent folder still live where it was (else
        ``ParentGone``, 409) and what holds the name now (``_upload_target``).
        ``upload.created`` then tells whether a new file was made (201) or one
        overwritten (204).
        """
        self.check_room(upload.existing, upload.writer.size, on_disk=False)
        small = upload.writer.take_small(self.options.inline_blob_bytes)
        info = small[0] if small is not None else upload.writer.finish()
        with self.creating(upload.parent, upload.name):
            self._hold_parent(upload.parent, upload.placement)
            node = self._write_upload(upload, self._upload_target(upload), info, small, mtime)
            self._commit()
        return node

    def _write_upload(
        self, upload: Upload, node: Node | None, info: BlobInfo,
        small: tuple[BlobInfo, bytes] | None, mtime: float | None,
    ) -> Node:
        """Holding the write lock, with ``node`` the upload's target (``_upload_target``):
        store the content ``info`` (its bytes given in ``small`` when kept in the
        database) as a new file or over ``node`` (keeping a version), flush and audit
        ``create``/``overwrite``; the caller commits. Sets ``upload.created``."""
        if small is None:  # a garbage collection may have removed it since finish
            upload.writer.ensure_placed()
        ensure_blob_row(self.session, info)
        if small is not None:
            inline_blobs.store(self.session, info, small[1])
        ctype = guess_content_type(upload.name)
        if node is None:
            node = self._new_node(
                upload.parent, upload.name, "file", blob_sha256=info.sha256,
                size=info.size, content_type=ctype, mtime=mtime or time.time(),
            )
            action = "create"
        else:
            fresh_empty = self._own_fresh_empty(node)
            self._claim(node)
            if node.blob_sha256 and node.blob_sha256 != info.sha256 and not fresh_empty:
                self._keep_version(node)
            node.blob_sha256 = info.sha256
            node.size = info.size
            node.content_type = ctype
            node.mtime = mtime or time.time()
            node.updated_at = utcnow()
            action = "overwrite"
        self.session.flush()
        self._audit(action, node, detail=f"{info.size} bytes sha256={info.sha256}")
        upload.created = action == "create"
        return node

    def _upload_target(self, upload: Upload) -> Node | None:
        """The file an upload overwrites as the database holds it now (the write lock
        is held), or None to create it: what a PUT arriving now would do.

        The file the request found may have been deleted (then the upload creates
        the name anew), replaced, or the name created by another request: the
        upload overwrites what holds the name if the actor may modify it, like a
        PUT coming just after; otherwise the usual refusal (409 for a folder or
        an item the actor may not change, rule 4 for a hidden one).
        """
        holder = tree.child_named(self.session, upload.parent.id, upload.name, fresh=True)
        if holder is None:
            return None
        if holder.is_folder:
            self._undo()
            raise Conflict(
                f"A folder named {upload.name!r} was created by another request at the same "
                "time; nothing was stored."
            )
        existing = upload.existing
        if existing is not None and holder.id == existing.id:
            return holder
        if not self.decide(Action.SEE, holder) or not self.decide(Action.MODIFY, holder):
            self._undo()
            raise self._taken(upload.parent, upload.name, holder)
        return holder

    @cached_property
    def quota_figures(self) -> QuotaFigures:
        """The actor's RFC 4331 used/available bytes (computed once per unit of work)."""
        return quota.figures(
            self.session, self.options.quota, self.blobs.free_bytes, self.actor.user_id,
            self.actor.category,
        )

    def check_room(
        self, existing: Node | None, size: int, *, on_disk: bool, what: str = "upload"
    ) -> None:
        """Raise ``InsufficientStorage`` when ``size`` bytes written as ``existing`` (or as a
        new file of the actor) would pass a quota, or (``on_disk``) the free disk space."""
        owner_id = existing.owner_id if existing is not None else self.actor.user_id
        category = self.actor.category
        if owner_id is not None and owner_id != self.actor.user_id:
            category = quota.category_of(self.session, owner_id)
        quota.check_room(
            self.session, self.options.quota, self.blobs.free_bytes, owner_id=owner_id,
            category=category, size=size, replaces=existing.size if existing else 0,
            on_disk=on_disk, what=what,
        )

    def _own_fresh_empty(self, node: Node) -> bool:
        """True when ``node`` is empty and the actor wrote it less than
        ``EMPTY_SAVE_SECONDS`` ago: the first half of an Explorer or Office save
        (0 bytes, then the content), not worth a version."""
        if node.size != 0:
            return False
        last = self.session.execute(
            select(NodeVersion.replaced_by, NodeVersion.replaced_at)
            .where(NodeVersion.node_id == node.id)
            .order_by(NodeVersion.id.desc()).limit(1)
        ).first()
        writer, written = (last[0], last[1]) if last else (node.owner_id, node.created_at)
        if writer is None or writer != self.actor.user_id:
            return False
        if written.tzinfo is None:
            written = written.replace(tzinfo=dt.UTC)
        return (utcnow() - written).total_seconds() < EMPTY_SAVE_SECONDS

    def _keep_version(self, node: Node) -> None:
        assert node.blob_sha256 is not None
        self.session.add(
            NodeVersion(
                node_id=node.id, blob_sha256=node.blob_sha256, size=node.size,
                content_type=node.content_type, mtime=node.mtime,
                replaced_by=self.actor.user_id,
            )
        )
        self.session.flush()
        keep = self.options.versions_kept
        old_ids = self.session.scalars(
            select(NodeVersion.id)
            .where(NodeVersion.node_id == node.id)
            .order_by(NodeVersion.id.desc())
            .offset(keep)
        ).all()
        if old_ids:
            self.session.execute(delete(NodeVersion).where(NodeVersion.id.in_(old_ids)))

    def set_mtime(self, node: Node, mtime: float) -> None:
        self.require(Action.MODIFY, node)
        node.mtime = mtime
        self._commit()

    def set_times(
        self, node: Node, *, modified: float | None = None, created: float | None = None,
        dry_run: bool = False,
    ) -> None:
        """Set the modification and/or creation time (Unix seconds); modify right."""
        self.require(Action.MODIFY, node)
        if dry_run:
            return
        if modified is not None:
            node.mtime = modified
        if created is not None:
            node.created_at = dt.datetime.fromtimestamp(created, dt.UTC)
        self._commit()

    def set_dead_property(self, node: Node, name: str, value: str | None, dry_run: bool) -> None:
        """Set (or remove, when value is None) a dead property, within the node's limits.

        Calls of one pass (all dry runs, then all real ones) add up: the limits
        apply to what the node would hold after every property of the request.
        Raises ``InsufficientStorage`` past a limit.
        """
        self.require(Action.MODIFY, node)
        key = (node.id, dry_run)
        plan = self._prop_plans.get(key)
        if plan is None:
            plan = PropertyPlan.load(self.session, node.id, self.options.dead_props)
            self._prop_plans[key] = plan
        plan.check(name, value)
        if dry_run:
            plan.accept(name, value)
            return
        plan.apply(self.session, node.id, name, value)
        self._commit()
