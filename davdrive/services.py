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
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import BinaryIO

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from davdrive import audit, tree
from davdrive.blobs import BlobInfo, BlobStore, BlobWriter
from davdrive.db import release_connection
from davdrive.deadprops import DeadPropLimits, PropertyPlan
from davdrive.errors import BadRequest, Conflict, Forbidden, NameNotAvailable, NotFound
from davdrive.facts import FactBuilder
from davdrive.models import (
    VISIBILITIES,
    Blob,
    DeadProperty,
    DocType,
    Node,
    NodeVersion,
    User,
    utcnow,
)
from davdrive.paths import join, name_key, reserved_key, validate_name
from davdrive.policy import Action, Actor, Decision, NodeFacts, allowed_actions, decide


@dataclass(frozen=True)
class DriveOptions:
    windows_names: bool = True
    max_upload_bytes: int | None = None
    versions_kept: int = 10
    dead_props: DeadPropLimits = DeadPropLimits()


def guess_content_type(name: str) -> str:
    return mimetypes.guess_type(name, strict=False)[0] or "application/octet-stream"


MAX_DEGREE = 1000
RESERVED_ROOT_NAMES = frozenset({"backoffice"})  # the virtual back-office branch
RESERVED_ROOT_KEYS = frozenset(reserved_key(n) for n in RESERVED_ROOT_NAMES)


class Unset:
    """Marker for "leave unchanged" where None is a meaningful value."""


UNSET = Unset()


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
        self.facts = FactBuilder(session, actor)
        self._chains: dict[tuple[str, ...], list[Node] | None] = {}
        self._facts: dict[int, NodeFacts] = {}
        self._prop_plans: dict[tuple[int, bool], PropertyPlan] = {}
        self._deferred = False

    # --- rights ---------------------------------------------------------------

    def facts_of(self, node: Node) -> NodeFacts:
        """The policy's facts about ``node`` for this actor (cached per unit of work)."""
        if node.id not in self._facts:
            chain = tree.ancestors(self.session, node)
            for n, f in zip(chain, self.facts.chain(chain), strict=True):
                self._facts.setdefault(n.id, f)
        return self._facts[node.id]

    def decide(self, action: Action, node: Node) -> Decision:
        return decide(self.actor, action, self.facts_of(node))

    def require(self, action: Action, node: Node) -> None:
        decision = self.decide(action, node)
        if not decision.allowed:
            raise Forbidden(f"Not allowed: {decision.reason}.")

    def allowed_actions(self, node: Node) -> list[Action]:
        return allowed_actions(self.actor, self.facts_of(node))

    # --- reading --------------------------------------------------------------

    def chain(self, parts: list[str]) -> list[Node] | None:
        """Nodes from the root to ``parts`` or None (missing, or not seen by the actor)."""
        key = tuple(name_key(p) for p in parts)
        if key not in self._chains:
            chain = tree.resolve_chain(self.session, parts)
            if chain is not None:
                for n, f in zip(chain, self.facts.chain(chain), strict=True):
                    self._facts[n.id] = f
                if not all(self.decide(Action.SEE, n) for n in chain):
                    chain = None
            if chain is None:
                # Hidden and missing paths do the same work (rule 4: no timing channel):
                # the folder rights and pass-through folders are loaded for both.
                self.facts.leads()
            self._chains[key] = chain
        return self._chains[key]

    def node_at(self, parts: list[str]) -> Node | None:
        chain = self.chain(parts)
        return chain[-1] if chain else None

    def children(self, folder: Node) -> list[Node]:
        """The children of ``folder`` that the actor sees (visible or pass-through)."""
        parent = self.facts_of(folder)
        seen = []
        for child in tree.children(self.session, folder.id):
            self._facts[child.id] = self.facts.child(parent, child)
            if self.decide(Action.SEE, child):
                seen.append(child)
        return seen

    def children_batches(self, folder: Node, size: int) -> Iterator[list[Node]]:
        """What ``children`` lists, in the same order, a batch at a time.

        For listings of any size: rows are read ``size`` at a time (keyset), and
        the facts and session entries of a batch are dropped once the caller asks
        for the next one, so memory is bounded by the batch, not the folder.
        """
        parent = self.facts_of(folder)
        pending: list[Node] = []
        for kind in ("folder", "file"):
            after: str | None = None
            while True:
                rows = tree.children_page(self.session, folder.id, kind, after, size)
                for child in rows:
                    facts = self.facts.child(parent, child)
                    if decide(self.actor, Action.SEE, facts).allowed:
                        self._facts[child.id] = facts
                        pending.append(child)
                    else:
                        self.session.expunge(child)
                if len(pending) >= size:
                    yield pending
                    self._drop(pending)
                    pending = []
                if len(rows) < size:
                    break
                after = rows[-1].name_key
        if pending:
            yield pending
            self._drop(pending)

    def _drop(self, nodes: list[Node]) -> None:
        """Forget the facts of listed nodes and detach them from the session."""
        for node in nodes:
            self._facts.pop(node.id, None)
            if node in self.session:
                self.session.expunge(node)

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

    def owner_logins(self, owner_ids: Iterable[int | None]) -> dict[int, str]:
        """{user id: login} for many owners in one query."""
        ids = {i for i in owner_ids if i is not None}
        if not ids:
            return {}
        rows = self.session.execute(select(User.id, User.login).where(User.id.in_(ids)))
        return {user_id: login for user_id, login in rows}

    def blob_info(self, node: Node) -> Blob | None:
        return self.session.get(Blob, node.blob_sha256) if node.blob_sha256 else None

    # --- creating -------------------------------------------------------------

    def check_create(self, parent: Node, name: str) -> str:
        """The valid name for a new item in ``parent``, or the error creating it would raise."""
        if not parent.is_folder:
            raise Conflict("The parent is not a folder.")
        self.require(Action.CREATE, parent)
        self._refuse_reserved(parent, name)
        name = validate_name(name, windows=self.options.windows_names)
        self._refuse_taken(parent, name)
        return name

    def _refuse_reserved(self, parent: Node, name: str) -> None:
        """409 for a root name that reads as a reserved one (lookalikes and invisible
        characters included, see ``paths.reserved_key``); checked before the other
        name rules so that every such name gets this one answer."""
        if parent.parent_id is None and reserved_key(name) in RESERVED_ROOT_KEYS:
            raise NameNotAvailable(f"The name {name!r} is reserved by the drive.")

    def _refuse_taken(self, parent: Node, name: str, moving: Node | None = None) -> None:
        """409 when ``name`` is taken in ``parent`` (seen or not); audited, never overwritten."""
        clash = tree.child_named(self.session, parent.id, name)
        if clash is None or clash is moving:
            return
        if not self.decide(Action.SEE, clash):
            self.session.rollback()
            self._audit("name_not_available", parent, detail=f"name {name!r} held by a hidden item")
            self._commit()
        raise NameNotAvailable(f"The name {name!r} is not available in this folder.")

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
        """Commit, or only flush inside ``one_transaction`` (which commits at its end)."""
        try:
            if self._deferred:
                self.session.flush()
                return
            self.session.commit()
        except IntegrityError as exc:
            self.session.rollback()
            raise NameNotAvailable("The name is not available in this folder.") from exc
        self._forget()

    @contextmanager
    def one_transaction(self) -> Iterator[None]:
        """Run several use cases as one transaction: one commit at the end, nothing
        stored if the block raises. Rights are decided on the state at the start."""
        self._deferred = True
        try:
            yield
        except BaseException:
            self._deferred = False
            self.session.rollback()
            self._forget()
            raise
        self._deferred = False
        self._commit()

    def _forget(self) -> None:
        """Drop cached paths and facts: something changed."""
        self._chains.clear()
        self._facts.clear()
        self._prop_plans.clear()
        self.facts.reset()

    def make_folder(self, parent: Node, name: str) -> Node:
        name = self.check_create(parent, name)
        node = self._new_node(parent, name, "folder")
        self.session.flush()
        self._audit("mkcol", node)
        self._commit()
        return node

    def create_empty_file(self, parent: Node, name: str) -> Node:
        """A new empty file (LOCK on an unmapped URL)."""
        name = self.check_create(parent, name)
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
        """Check the rights for a PUT and open a blob writer.

        The read transaction ends here: the body then streams to a temporary
        blob file with no DB connection checked out (a slow client must not
        hold one); ``finish_upload`` opens a new transaction.
        """
        if existing is not None:
            if existing.is_folder:
                raise Conflict("A folder cannot be overwritten by a file.")
            self.require(Action.MODIFY, existing)
        else:
            name = self.check_create(parent, name)
        writer = self.blobs.writer(self.options.max_upload_bytes)
        release_connection(self.session)
        return Upload(parent, name, existing, writer)

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

    def delete(self, node: Node, guard: Callable[[], None] | None = None) -> None:
        """Move ``node`` (and its subtree) to the trash, all or nothing.

        ``guard`` (e.g. the lock check) runs once the rights are granted, before
        anything changes: a refusal never depends on what the actor cannot see.
        """
        self.require_subtree(Action.DELETE, node)
        if guard is not None:
            guard()
        self._trash(node)
        self._audit("delete", node)
        self._commit()

    def require_subtree(self, action: Action, node: Node) -> list[Node]:
        """Check ``action`` on ``node`` and every descendant, seen or not: all or nothing.

        A refusal on a descendant names it only if the actor sees it.
        """
        self.require(action, node)
        nodes = tree.subtree(self.session, node)
        if len(nodes) == 1:
            return nodes
        facts = self.facts.subtree(self.facts_of(node), nodes)
        for n in nodes[1:]:
            decision = decide(self.actor, action, facts[n.id])
            if decision.allowed:
                continue
            if decide(self.actor, Action.SEE, facts[n.id]):
                raise Forbidden(
                    f"Not allowed to {action.value} {n.name!r} inside: {decision.reason}; "
                    "nothing was changed."
                )
            raise Forbidden(
                f"Not allowed: the folder holds items you may not {action.value}; "
                "nothing was changed."
            )
        return nodes

    def _trash(self, node: Node) -> None:
        node.deleted_at = utcnow()
        node.deleted_by = self.actor.user_id
        self.session.flush()

    def move(self, node: Node, dest_parent: Node, dest_name: str, replace: Node | None) -> Node:
        """Rename or move ``node``; ``replace`` is the existing target (Overwrite: T).

        The node keeps its owner and its effective classification: leaving its
        folder, it takes on the degree, doc type and privacy it inherited there.
        """
        self.check_move(node, dest_parent, dest_name, replace)
        inherited = self._effective_classification(node)
        dest_name = self._take_destination(node, dest_parent, dest_name, replace)
        source_path = self.path(node)
        if dest_parent.id != node.parent_id:
            node.min_degree, node.doc_type, node.visibility = inherited
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
        """Copy ``node`` (its subtree when ``recursive``); the copy belongs to the actor.

        Every node copied must be readable by the actor, or nothing is copied.
        The copy keeps the effective classification of what it copies.
        """
        nodes = self.check_copy(node, dest_parent, dest_name, replace, recursive)
        top_class = self._effective_classification(node)
        dest_name = self._take_destination(node, dest_parent, dest_name, replace)
        props = self.dead_properties(n.id for n in nodes)
        new_ids: dict[int, Node] = {}
        for n in nodes:
            parent = dest_parent if n is node else new_ids[n.parent_id or 0]
            degree, doc_type, visibility = (
                top_class if n is node else (n.min_degree, n.doc_type, n.visibility)
            )
            copy = self._new_node(
                parent, dest_name if n is node else n.name, n.kind,
                blob_sha256=n.blob_sha256, size=n.size, content_type=n.content_type,
                mtime=n.mtime, doc_type=doc_type, min_degree=degree,
            )
            if visibility == "private":
                copy.visibility = "private"
            self.session.flush()
            new_ids[n.id] = copy
            for pname, value in props[n.id].items():
                self.session.add(DeadProperty(node_id=copy.id, name=pname, value=value))
        self.session.flush()
        self._audit("copy", new_ids[node.id], source=self.path(node))
        self._commit()
        return new_ids[node.id]

    def _effective_classification(self, node: Node) -> tuple[int, str | None, str]:
        """(min degree, doc type, visibility) that ``node`` has where it stands."""
        facts = self.facts_of(node)
        visibility = "private" if facts.private_marks else node.visibility
        return facts.min_degree, facts.doc_type, visibility

    def check_move(
        self, node: Node, dest_parent: Node, dest_name: str, replace: Node | None
    ) -> None:
        """Every right a MOVE needs (rules 7 and 8), checked without changing anything."""
        self.require_subtree(Action.MOVE, node)
        self._check_destination(dest_parent, dest_name, replace, moving=node)

    def check_copy(
        self, node: Node, dest_parent: Node, dest_name: str, replace: Node | None,
        recursive: bool,
    ) -> list[Node]:
        """Every right a COPY needs, destination first; returns the nodes to copy.

        The destination is checked first, so someone who may not create there
        learns nothing about what the source holds.
        """
        self._check_destination(dest_parent, dest_name, replace, moving=node)
        if not recursive:
            self.require(Action.READ, node)
            return [node]
        return self.require_subtree(Action.READ, node)

    def _check_destination(
        self, dest_parent: Node, dest_name: str, replace: Node | None, moving: Node
    ) -> str:
        if not dest_parent.is_folder:
            raise Conflict("The destination parent is not a folder.")
        self.require(Action.CREATE, dest_parent)
        self._refuse_reserved(dest_parent, dest_name)
        dest_name = validate_name(dest_name, windows=self.options.windows_names)
        if replace is not None:
            self.require_subtree(Action.DELETE, replace)
        else:
            self._refuse_taken(dest_parent, dest_name, moving=moving)
        return dest_name

    def _take_destination(
        self, node: Node, dest_parent: Node, dest_name: str, replace: Node | None
    ) -> str:
        """Trash what the destination replaces; the destination's valid name."""
        dest_name = validate_name(dest_name, windows=self.options.windows_names)
        if replace is not None:
            self._trash(replace)
        self._refuse_taken(dest_parent, dest_name, moving=node)
        return dest_name

    # --- classification -------------------------------------------------------

    def set_classification(
        self,
        node: Node,
        *,
        min_degree: int | None = None,
        doc_type: str | None | Unset = UNSET,
        dry_run: bool = False,
    ) -> None:
        """Change the minimum degree and/or doc type (``doc_type=None`` clears it).

        With ``dry_run`` everything is checked and nothing is changed.
        """
        self.require(Action.SET_CLASSIFICATION, node)
        if min_degree is not None and not 0 <= min_degree <= MAX_DEGREE:
            raise BadRequest(f"The degree must be a whole number from 0 to {MAX_DEGREE}.")
        if isinstance(doc_type, str) and self.session.scalars(
            select(DocType.id).where(DocType.slug == doc_type)
        ).first() is None:
            raise BadRequest(f"No document type {doc_type!r}: add it first.")
        if dry_run:
            return
        if min_degree is not None:
            node.min_degree = min_degree
        if not isinstance(doc_type, Unset):
            node.doc_type = doc_type
        node.updated_at = utcnow()
        self.session.flush()
        self._audit("classify", node, detail=f"degree={node.min_degree} doc_type={node.doc_type}")
        self._commit()

    def set_visibility(self, node: Node, visibility: str, *, dry_run: bool = False) -> None:
        """Make ``node`` shared or private (checked only, with ``dry_run``)."""
        self.require(Action.SET_VISIBILITY, node)
        if visibility not in VISIBILITIES:
            raise BadRequest("The visibility is 'shared' or 'private'.")
        if dry_run:
            return
        node.visibility = visibility
        node.updated_at = utcnow()
        self.session.flush()
        self._audit("visibility", node, detail=visibility)
        self._commit()

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
