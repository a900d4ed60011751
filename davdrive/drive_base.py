"""The drive's foundation: the actor's rights, naming rules, commits and audit.

``DriveBase`` holds what every use case needs (see ``davdrive.services.Drive``,
which stacks the reading, writing and moving use cases on top of it).
"""

from __future__ import annotations

import mimetypes
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cached_property

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from davdrive import audit, tree
from davdrive.blob_backend import BlobBackend, BlobWriting
from davdrive.conflicts import (
    Placement,
    claim,
    is_name_clash,
    placement_of,
    still_placed,
)
from davdrive.deadprops import DeadPropLimits, PropertyPlan
from davdrive.errors import (
    ChangedMeanwhile,
    Conflict,
    CreatedMeanwhile,
    DriveError,
    Forbidden,
    GoneMeanwhile,
    NameNotAvailable,
    ParentGone,
)
from davdrive.facts import FactBuilder
from davdrive.junk import DEFAULT_JUNK_NAMES, JunkNames
from davdrive.models import (
    Node,
)
from davdrive.paths import join, name_key, reserved_key, validate_name
from davdrive.policy import Action, Actor, Decision, NodeFacts, allowed_actions, decide
from davdrive.quota import QuotaLimits
from davdrive.readable_files import ReadableFiles
from davdrive.rights_cache import RightsCache, Stamp
from davdrive.write_lock import take_write_lock


@dataclass(frozen=True)
class DriveOptions:
    windows_names: bool = True
    junk_names: tuple[str, ...] = DEFAULT_JUNK_NAMES
    max_upload_bytes: int | None = None
    versions_kept: int = 10
    dead_props: DeadPropLimits = DeadPropLimits()
    quota: QuotaLimits = QuotaLimits()
    inline_blob_bytes: int = 0  # content up to this size is kept in the database

    @cached_property
    def is_junk(self) -> JunkNames:
        """The junk-name matcher of ``junk_names``, compiled once per options."""
        return JunkNames(self.junk_names)


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

    def __init__(
        self, parent: Node, name: str, existing: Node | None, writer: BlobWriting,
        dropped: bool = False, placement: Placement | None = None,
    ) -> None:
        self.parent = parent
        self.name = name
        self.existing = existing
        self.writer = writer
        self.dropped = dropped  # a junk file: read, then dropped, never stored
        self.placement = placement or []  # the parent folder's chain as the request read it
        self.created = existing is None  # set by finish_upload: True when it made a new file




class DriveBase:
    """Session, blob store, actor and options of one unit of work; rights and commits."""

    def __init__(
        self,
        session: Session | Callable[[], Session],
        blobs: BlobBackend,
        actor: Actor,
        options: DriveOptions | None = None,
        ip: str = "",
        *,
        rights_cache: RightsCache | None = None,
        rights_stamp: Stamp | None = None,
        readable_files: ReadableFiles | None = None,
        tree_version: int | None = None,
    ) -> None:
        """``session``: the unit of work's session, or a function giving it on first
        use (a request that needs no ORM never opens one). ``rights_cache``/
        ``rights_stamp``: see ``FactBuilder``. ``readable_files``: the process's
        cache of the read fast path, used when ``tree_version`` (read with the
        account) is known."""
        self.blobs = blobs
        self.actor = actor
        self.options = options or DriveOptions()
        self.ip = ip
        self.facts = FactBuilder(session, actor, rights_cache, rights_stamp)
        # Kept answers are used only with the version and stamp they were decided under
        # (the key then ends with the path's name keys).
        self._readable_files = readable_files
        self._readable_key = (
            (tree_version, rights_stamp, actor)
            if tree_version is not None and rights_stamp is not None else None
        )
        self.is_junk = self.options.is_junk
        self._chains: dict[tuple[str, ...], list[Node] | None] = {}
        self._facts: dict[int, NodeFacts] = {}
        self._prop_plans: dict[tuple[int, bool], PropertyPlan] = {}
        self._deferred = False

    @property
    def session(self) -> Session:
        return self.facts.session  # made on first use when given as a function

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

    def check_create(self, parent: Node, name: str) -> str:
        """The valid name for a new item in ``parent``, or the error creating it would raise."""
        if not parent.is_folder:
            raise Conflict("The parent is not a folder.")
        self.require(Action.CREATE, parent)
        self._refuse_reserved(parent, name)
        name = validate_name(name, windows=self.options.windows_names)
        self._refuse_taken(parent, name)
        return name

    def accept_junk(self, parent: Node) -> None:
        """The rights for a junk file (``davdrive.junk``), which is never stored:
        those of creating a file in ``parent``."""
        if not parent.is_folder:
            raise Conflict("The parent is not a folder.")
        self.require(Action.CREATE, parent)

    def _refuse_reserved(self, parent: Node, name: str) -> None:
        """409 for a root name that reads as a reserved one (lookalikes and invisible
        characters included, see ``paths.reserved_key``); checked before the other
        name rules so that every such name gets this one answer."""
        if parent.parent_id is None and reserved_key(name) in RESERVED_ROOT_KEYS:
            raise NameNotAvailable(f"The name {name!r} is reserved by the drive.")

    def _refuse_taken(self, parent: Node, name: str, moving: Node | None = None) -> None:
        """Refuse ``name`` when it is taken in ``parent`` (seen or not); never overwrites."""
        clash = tree.child_named(self.session, parent.id, name)
        if clash is None or clash is moving:
            return
        raise self._taken(parent, name, clash)

    def _taken(self, parent: Node, name: str, clash: Node) -> DriveError:
        """The error for creating ``name`` where ``clash`` holds it.

        A hidden holder gets the audited 409 "not available" of rule 4. A visible one
        was created since the request looked the name up (path lookups see every
        visible name, case-insensitively): ``CreatedMeanwhile``.
        """
        if not self.decide(Action.SEE, clash):
            self.session.rollback()
            self._audit("name_not_available", parent, detail=f"name {name!r} held by a hidden item")
            self._commit()
            return NameNotAvailable(f"The name {name!r} is not available in this folder.")
        return CreatedMeanwhile(
            f"An item named {name!r} was created by another request at the same time; "
            "nothing was changed."
        )

    def _new_node(self, parent: Node, name: str, kind: str, **values: object) -> Node:
        """A new node in ``parent``. Its doc type is only the one given: without one it
        stores none and inherits the folder's (the effective doc type is the node's
        own, else the nearest ancestor's), so a later retype of the folder applies
        to it. Only a move or copy out of the folder gives it one of its own."""
        now = time.time()
        node = Node(
            parent_id=parent.id,
            name=name,
            name_key=name_key(name),
            kind=kind,
            owner_id=self.actor.user_id,
            doc_type=values.pop("doc_type", None),
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
            raise self.conflict_error(exc) from exc
        self._forget()

    @contextmanager
    def creating(self, parent: Node, name: str) -> Iterator[None]:
        """Run a use case that creates ``name`` in ``parent``: a database conflict inside
        (another request created the name first) becomes the matching domain error."""
        try:
            yield
        except IntegrityError as exc:
            raise self.conflict_error(exc, parent, name) from exc

    def conflict_error(
        self, exc: IntegrityError, parent: Node | None = None, name: str = ""
    ) -> DriveError:
        """The one mapping of a database conflict (a lost race) to a domain error.

        Everything of the transaction is rolled back. A name taken meanwhile is
        ``CreatedMeanwhile`` when the actor sees the item that won, and the usual
        audited "name not available" (rule 4) when not; anything else is
        ``ChangedMeanwhile``.
        """
        self._undo()
        if not is_name_clash(exc):
            return ChangedMeanwhile(
                "Another request changed the same item at the same time; nothing was "
                "changed. Please retry."
            )
        clash = None if parent is None else tree.child_named(self.session, parent.id, name)
        if parent is None or clash is None:
            return CreatedMeanwhile(
                "An item of this name was created by another request at the same time; "
                "nothing was changed."
            )
        return self._taken(parent, name, clash)

    def _claim(self, node: Node) -> None:
        """Write-lock ``node`` as read; ``GoneMeanwhile`` (404, what a request coming
        just after would get) if another request moved, renamed or deleted it since."""
        if not claim(self.session, node):
            self._undo()
            raise GoneMeanwhile(
                f"{node.name!r} was moved or deleted by another request at the same time; "
                "nothing was changed."
            )

    def placement(self, folder: Node) -> Placement:
        """``folder`` and its ancestors as this request read them (see ``_hold_parent``)."""
        return placement_of(tree.ancestors(self.session, folder))

    def _hold_parent(self, parent: Node, placement: Placement | None = None) -> None:
        """Become the writer, then check that ``parent`` and every ancestor are still
        live where the request found them: ``ParentGone`` (409, a missing parent)
        otherwise. Nothing written after this can land under a trashed folder."""
        if placement is None:
            placement = self.placement(parent)
        take_write_lock(self.session, "drive")
        if not still_placed(self.session, placement):
            self._undo()
            raise ParentGone(
                f"The folder {parent.name!r} was moved or deleted by another request at the "
                "same time; nothing was changed."
            )

    @contextmanager
    def one_transaction(self) -> Iterator[None]:
        """Run several use cases as one transaction: one commit at the end, nothing
        stored if the block raises. Rights are decided on the state at the start."""
        self._deferred = True
        try:
            yield
        except IntegrityError as exc:
            self._deferred = False
            raise self.conflict_error(exc) from exc
        except BaseException:
            self._deferred = False
            self._undo()
            raise
        self._deferred = False
        self._commit()

    def _undo(self) -> None:
        """Roll the transaction back and forget what this unit of work read in it."""
        self.session.rollback()
        self._forget()

    def _forget(self) -> None:
        """Drop cached paths and facts: something changed."""
        self._chains.clear()
        self._facts.clear()
        self._prop_plans.clear()
        self.facts.reset()

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
