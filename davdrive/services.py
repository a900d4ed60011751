"""Use cases of the drive: every change goes through ``Drive``.

A ``Drive`` is built per request (or per CLI command) around the caller's
session, the blob store and the acting user. Each use case asks the policy,
raises a domain error when refused, writes, audits and commits. Nothing is
half-done: a refused recursive operation changes nothing, and an upload's
row is committed only after its blob is durable.
"""

from __future__ import annotations

import mimetypes
import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import BinaryIO

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from davdrive import audit, tree
from davdrive.blobs import BlobInfo, BlobStore, BlobWriter
from davdrive.errors import Conflict, Forbidden, NameNotAvailable, NotFound
from davdrive.models import Blob, DeadProperty, Node, NodeVersion, utcnow
from davdrive.paths import join, name_key, validate_name
from davdrive.policy import Action, Actor, Decision, NodeFacts, decide


@dataclass(frozen=True)
class DriveOptions:
    windows_names: bool = True
    max_upload_bytes: int | None = None
    versions_kept: int = 10


def facts(node: Node) -> NodeFacts:
    return NodeFacts(
        is_folder=node.is_folder,
        owner_id=node.owner_id,
        protected=node.protected,
        is_root=node.parent_id is None,
    )


def guess_content_type(name: str) -> str:
    return mimetypes.guess_type(name, strict=False)[0] or "application/octet-stream"


class Upload:
    """An upload in progress: a blob writer plus where the result goes."""

    def __init__(self, parent: Node, name: str, existing: Node | None, writer: BlobWriter):
        self.parent = parent
        self.name = name
        self.existing = existing
        self.writer = writer


class Drive:
    """The drive as seen and changed by one actor, within one session."""

    def __init__(
        self,
        session: Session,
        blobs: BlobStore,
        actor: Actor,
        options: DriveOptions | None = None,
        ip: str = "",
    ) -> None:
        self.session = session
        self.blobs = blobs
        self.actor = actor
        self.options = options or DriveOptions()
        self.ip = ip
        self._chains: dict[tuple[str, ...], list[Node] | None] = {}

    # --- rights ---------------------------------------------------------------

    def decide(self, action: Action, node: Node) -> Decision:
        return decide(self.actor, action, facts(node))

    def require(self, action: Action, node: Node) -> None:
        decision = self.decide(action, node)
        if not decision.allowed:
            raise Forbidden(f"Not allowed: {decision.reason}.")

    # --- reading --------------------------------------------------------------

    def chain(self, parts: list[str]) -> list[Node] | None:
        """Visible nodes from the root to ``parts`` or None (missing or invisible)."""
        key = tuple(name_key(p) for p in parts)
        if key not in self._chains:
            chain = tree.resolve_chain(self.session, parts)
            if chain is not None and not all(self.decide(Action.SEE, n) for n in chain):
                chain = None
            self._chains[key] = chain
        return self._chains[key]

    def node_at(self, parts: list[str]) -> Node | None:
        chain = self.chain(parts)
        return chain[-1] if chain else None

    def children(self, folder: Node) -> list[Node]:
        return [n for n in tree.children(self.session, folder.id) if self.decide(Action.SEE, n)]

    def open_content(self, node: Node) -> BinaryIO:
        self.require(Action.READ, node)
        if node.blob_sha256 is None:
            raise NotFound("This file has no content.")
        return self.blobs.open(node.blob_sha256)

    def dead_properties(self, node_ids: Iterable[int]) -> dict[int, dict[str, str]]:
        """Dead properties of many nodes in one query: {node_id: {name: xml}}."""
        ids = list(node_ids)
        result: dict[int, dict[str, str]] = {i: {} for i in ids}
        if ids:
            rows = self.session.execute(
                select(DeadProperty.node_id, DeadProperty.name, DeadProperty.value).where(
                    DeadProperty.node_id.in_(ids)
                )
            )
            for node_id, name, value in rows:
                result[node_id][name] = value
        return result

    def blob_info(self, node: Node) -> Blob | None:
        return self.session.get(Blob, node.blob_sha256) if node.blob_sha256 else None

    # --- creating -------------------------------------------------------------

    def _check_create(self, parent: Node, name: str) -> str:
        if not parent.is_folder:
            raise Conflict("The parent is not a folder.")
        self.require(Action.CREATE, parent)
        name = validate_name(name, windows=self.options.windows_names)
        if tree.child_named(self.session, parent.id, name) is not None:
            raise NameNotAvailable(f"The name {name!r} is not available in this folder.")
        return name

    def _new_node(self, parent: Node, name: str, kind: str, **values: object) -> Node:
        now = time.time()
        node = Node(
            parent_id=parent.id,
            name=name,
            name_key=name_key(name),
            kind=kind,
            owner_id=self.actor.user_id,
            doc_type=values.pop("doc_type", parent.doc_type),
            visibility="private" if parent.new_files_private and kind == "file" else "shared",
            mtime=values.pop("mtime", now),
            **values,
        )
        self.session.add(node)
        return node

    def _commit(self) -> None:
        try:
            self.session.commit()
        except IntegrityError as exc:
            self.session.rollback()
            raise NameNotAvailable("The name is not available in this folder.") from exc
        self._chains.clear()

    def make_folder(self, parent: Node, name: str) -> Node:
        name = self._check_create(parent, name)
        node = self._new_node(parent, name, "folder")
        self.session.flush()
        self._audit("mkcol", node)
        self._commit()
        return node

    def create_empty_file(self, parent: Node, name: str) -> Node:
        """A new empty file (LOCK on an unmapped URL)."""
        name = self._check_create(parent, name)
        info = self.blobs.put_bytes(b"")
        self._ensure_blob_row(info)
        node = self._new_node(
            parent, name, "file", blob_sha256=info.sha256, size=0,
            content_type=guess_content_type(name),
        )
        self.session.flush()
        self._audit("create", node)
        self._commit()
        return node

    def begin_upload(self, parent: Node, name: str, existing: Node | None) -> Upload:
        """Check the rights for a PUT and open a blob writer."""
        if existing is not None:
            if existing.is_folder:
                raise Conflict("A folder cannot be overwritten by a file.")
            self.require(Action.MODIFY, existing)
        else:
            name = self._check_create(parent, name)
        return Upload(parent, name, existing, self.blobs.writer(self.options.max_upload_bytes))

    def finish_upload(
        self, upload: Upload, content_type: str | None = None, mtime: float | None = None
    ) -> Node:
        """Make the blob durable, then commit the row pointing at it."""
        info = upload.writer.finish()
        self._ensure_blob_row(info)
        ctype = guess_content_type(upload.name)
        node = upload.existing
        if node is None:
            node = self._new_node(
                upload.parent, upload.name, "file", blob_sha256=info.sha256, size=info.size,
                content_type=ctype, mtime=mtime or time.time(),
            )
            action = "create"
        else:
            if node.blob_sha256 and node.blob_sha256 != info.sha256:
                self._keep_version(node)
            node.blob_sha256 = info.sha256
            node.size = info.size
            node.content_type = ctype
            node.mtime = mtime or time.time()
            node.updated_at = utcnow()
            action = "overwrite"
        self.session.flush()
        self._audit(action, node, detail=f"{info.size} bytes sha256={info.sha256}")
        self._commit()
        return node

    def _ensure_blob_row(self, info: BlobInfo) -> None:
        if self.session.get(Blob, info.sha256) is None:
            self.session.add(Blob(sha256=info.sha256, sha1=info.sha1, md5=info.md5, size=info.size))

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

    # --- changing -------------------------------------------------------------

    def set_mtime(self, node: Node, mtime: float) -> None:
        self.require(Action.MODIFY, node)
        node.mtime = mtime
        self._commit()

    def set_dead_property(self, node: Node, name: str, value: str | None, dry_run: bool) -> None:
        """Set (or remove, when value is None) a dead property."""
        self.require(Action.MODIFY, node)
        if dry_run:
            return
        prop = self.session.get(DeadProperty, (node.id, name))
        if value is None:
            if prop is not None:
                self.session.delete(prop)
        elif prop is None:
            self.session.add(DeadProperty(node_id=node.id, name=name, value=value))
        else:
            prop.value = value
        self._commit()

    def delete(self, node: Node) -> None:
        """Move ``node`` (and its subtree) to the trash, all or nothing."""
        self._require_subtree(Action.DELETE, node)
        self._trash(node)
        self._audit("delete", node)
        self._commit()

    def _require_subtree(self, action: Action, node: Node) -> list[Node]:
        nodes = tree.subtree(self.session, node)
        for n in nodes:
            decision = self.decide(action, n)
            if not decision.allowed:
                raise Forbidden(f"Not allowed: {decision.reason}; nothing was changed.")
        return nodes

    def _trash(self, node: Node) -> None:
        node.deleted_at = utcnow()
        node.deleted_by = self.actor.user_id
        self.session.flush()

    def move(self, node: Node, dest_parent: Node, dest_name: str, replace: Node | None) -> Node:
        """Rename or move ``node``; ``replace`` is the existing target (Overwrite: T)."""
        self._require_subtree(Action.MOVE, node)
        dest_name = self._check_destination(node, dest_parent, dest_name, replace)
        source_path = self.path(node)
        node.parent_id = dest_parent.id
        node.name = dest_name
        node.name_key = name_key(dest_name)
        node.updated_at = utcnow()
        self.session.flush()
        self._audit("move", node, source=source_path)
        self._commit()
        return node

    def copy(
        self, node: Node, dest_parent: Node, dest_name: str, replace: Node | None, recursive: bool
    ) -> Node:
        """Copy ``node`` (its subtree when ``recursive``); the copy belongs to the actor."""
        nodes = tree.subtree(self.session, node) if recursive else [node]
        for n in nodes:
            self.require(Action.READ, n)
        dest_name = self._check_destination(node, dest_parent, dest_name, replace)
        props = self.dead_properties(n.id for n in nodes)
        new_ids: dict[int, Node] = {}
        for n in nodes:
            parent = dest_parent if n is node else new_ids[n.parent_id or 0]
            copy = self._new_node(
                parent, dest_name if n is node else n.name, n.kind,
                blob_sha256=n.blob_sha256, size=n.size, content_type=n.content_type,
                mtime=n.mtime, doc_type=n.doc_type, min_degree=n.min_degree,
            )
            self.session.flush()
            new_ids[n.id] = copy
            for pname, value in props[n.id].items():
                self.session.add(DeadProperty(node_id=copy.id, name=pname, value=value))
        self.session.flush()
        self._audit("copy", new_ids[node.id], source=self.path(node))
        self._commit()
        return new_ids[node.id]

    def _check_destination(
        self, node: Node, dest_parent: Node, dest_name: str, replace: Node | None
    ) -> str:
        if not dest_parent.is_folder:
            raise Conflict("The destination parent is not a folder.")
        self.require(Action.CREATE, dest_parent)
        dest_name = validate_name(dest_name, windows=self.options.windows_names)
        if replace is not None:
            self._require_subtree(Action.DELETE, replace)
            self._trash(replace)
        clash = tree.child_named(self.session, dest_parent.id, dest_name)
        if clash is not None and clash.id != node.id:
            raise NameNotAvailable(f"The name {dest_name!r} is not available in this folder.")
        return dest_name

    # --- helpers --------------------------------------------------------------

    def path(self, node: Node) -> str:
        return join(tree.path_of(self.session, node))

    def _audit(self, action: str, node: Node, source: str | None = None, detail: str = "") -> None:
        path = self.path(node)
        audit.record(
            self.session,
            user=self.actor.login,
            ip=self.ip,
            action=action,
            path=source if source is not None else path,
            target=path if source is not None else "",
            detail=detail,
        )
