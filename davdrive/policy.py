"""The rights engine: pure facts in, decision out (DESIGN section 3).

``decide(actor, action, node)`` is the only place where drive rights are
decided, and ``decide_login`` the only place where sign-in is. Nothing here
does I/O: callers gather the facts (``Actor``, ``NodeFacts``, see
``davdrive.facts``) and act on the ``Decision``, whose ``reason`` is written
for humans ("degree 1 < required 3").

Rules, in the order they are applied:

- the system may do everything;
- protected items are changed by nobody else; the backoffice branch is
  read-only; the root is never deleted or moved;
- document administrators may do everything else, but delete and move only
  when their category may delete (seed 002: "for the whole category");
- a node is *visible* when the category may read documents, the user's degree
  reaches the highest minimum degree of the node and its ancestors, the
  node's effective doc type is not excluded for the category, every private
  node on the way is the user's own or in a folder the user manages, and the
  category's folder right here is at least ``read``;
- an invisible folder that leads to something visible is a *pass-through*
  folder: it may be seen and listed, nothing else;
- writing needs the documents level ``write``; create needs the folder right
  ``write``; modify, delete and move need ownership with ``write`` or
  ``manage``; delete and move also need the category's ``may_delete``;
  visibility is set by the owner or a manager, classification by a manager,
  folder rights by document administrators.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from davdrive.models import FOLDER_LEVELS, LEVELS


class Action(StrEnum):
    SEE = "see"
    READ = "read"
    CREATE = "create"  # in a folder
    MODIFY = "modify"  # content, properties, lock
    DELETE = "delete"
    MOVE = "move"  # rename or move away
    SET_VISIBILITY = "set_visibility"
    SET_CLASSIFICATION = "set_classification"
    SET_RIGHTS = "set_rights"


READ_ACTIONS = frozenset({Action.SEE, Action.READ})
OWNER_ACTIONS = frozenset({Action.MODIFY, Action.DELETE, Action.MOVE})


@dataclass(frozen=True)
class Actor:
    """Who acts: a user with their category's rights, or the system."""

    user_id: int | None
    login: str
    category: str = ""
    documents: str = "none"
    members: str = "none"
    config: bool = False
    may_delete: bool = True
    degree: int = 0
    excluded_doc_types: frozenset[str] = field(default_factory=frozenset)
    is_system: bool = False


SYSTEM = Actor(user_id=None, login="system", documents="admin", config=True, is_system=True)


@dataclass(frozen=True)
class PrivateMark:
    """A private node on the way to (or being) the node: whose it is, and the
    acting category's right on the folder holding it."""

    owner_id: int | None
    holder_right: str = "none"


@dataclass(frozen=True)
class NodeFacts:
    """What the policy needs to know about one node, for one acting category.

    ``min_degree`` is the highest minimum degree of the node and its
    ancestors; ``doc_type`` the effective doc type (the node's own, else the
    nearest ancestor's); ``right`` the category's folder right (the nearest
    entry on the node, if a folder, or an ancestor; ``none`` without any);
    ``leads_to_visible`` tells that some descendant is visible to the actor.
    """

    is_folder: bool
    owner_id: int | None = None
    protected: bool = False
    is_root: bool = False
    in_backoffice: bool = False
    min_degree: int = 0
    doc_type: str | None = None
    private_marks: tuple[PrivateMark, ...] = ()
    right: str = "none"
    leads_to_visible: bool = False


@dataclass(frozen=True)
class Decision:
    allowed: bool
    reason: str

    def __bool__(self) -> bool:
        return self.allowed


def level_at_least(level: str, required: str) -> bool:
    """Documents/members levels: none < read < write < admin."""
    return LEVELS.index(level) >= LEVELS.index(required)


def right_at_least(right: str, required: str) -> bool:
    """Folder rights: none < read < write < manage."""
    return FOLDER_LEVELS.index(right) >= FOLDER_LEVELS.index(required)


def visibility(actor: Actor, node: NodeFacts) -> Decision:
    """Rule 3 without pass-through: may ``actor`` see ``node`` itself?"""
    if actor.is_system or actor.documents == "admin":
        return Decision(True, "document administrator")
    if not level_at_least(actor.documents, "read"):
        return Decision(
            False, f"documents level {actor.documents!r} of category {actor.category!r} "
            "< required 'read'",
        )
    if actor.degree < node.min_degree:
        return Decision(False, f"degree {actor.degree} < required {node.min_degree}")
    if node.doc_type is not None and node.doc_type in actor.excluded_doc_types:
        return Decision(
            False, f"doc type {node.doc_type!r} excluded for category {actor.category!r}"
        )
    for mark in node.private_marks:
        if mark.owner_id != actor.user_id and mark.holder_right != "manage":
            return Decision(
                False, "private item of another user, in a folder you do not manage"
            )
    if not right_at_least(node.right, "read"):
        return Decision(
            False, f"folder right {node.right!r} of category {actor.category!r} < required 'read'"
        )
    return Decision(True, f"visible: folder right {node.right!r}, degree {actor.degree}")


def decide(actor: Actor, action: Action, node: NodeFacts) -> Decision:
    """May ``actor`` perform ``action`` on ``node``?

    For ``CREATE`` the node is the folder that receives the new item.
    """
    if actor.is_system:
        return Decision(True, "the system may do everything")
    if action not in READ_ACTIONS:
        if node.protected:
            return Decision(False, "the item is protected: only the system changes it")
        if node.in_backoffice:
            return Decision(False, "the backoffice branch is read-only over WebDAV")
        if action in (Action.DELETE, Action.MOVE) and node.is_root:
            return Decision(False, "the root folder cannot be deleted or moved")
        if action is Action.CREATE and not node.is_folder:
            return Decision(False, "items are created in folders, not in files")
        if action is Action.SET_RIGHTS and not node.is_folder:
            return Decision(False, "rights are set on folders, not on files")
    if actor.documents == "admin":
        if action in (Action.DELETE, Action.MOVE) and not actor.may_delete:
            return Decision(False, f"category {actor.category!r} may not delete")
        return Decision(True, "document administrator")
    if action is Action.SET_RIGHTS:
        return Decision(False, "only document administrators set folder rights")
    seen = visibility(actor, node)
    if not seen:
        if node.is_folder and node.leads_to_visible:
            if action in READ_ACTIONS:
                return Decision(True, "pass-through folder: it leads to items you may see")
            return Decision(
                False, "pass-through folder: you see it only because it leads to items "
                "you may see",
            )
        return seen
    if action in READ_ACTIONS:
        return seen
    if not level_at_least(actor.documents, "write"):
        return Decision(
            False, f"documents level {actor.documents!r} of category {actor.category!r} "
            "< required 'write'",
        )
    return _decide_change(actor, action, node)


def _decide_change(actor: Actor, action: Action, node: NodeFacts) -> Decision:
    """Rules 5 to 9 for a visible node and a category that may write."""
    owner = node.owner_id is not None and node.owner_id == actor.user_id
    manage = node.right == "manage"
    if action is Action.CREATE:
        if not right_at_least(node.right, "write"):
            return Decision(False, f"folder right {node.right!r} < required 'write'")
        return Decision(True, f"folder right {node.right!r} >= 'write'")
    if action is Action.SET_CLASSIFICATION:
        if not manage:
            return Decision(False, "only those who manage the folder set degree and doc type")
        return Decision(True, "folder right 'manage'")
    if action is Action.SET_VISIBILITY:
        if not (owner or manage):
            return Decision(False, "only the owner or a folder manager sets the visibility")
        return Decision(True, "owner" if owner else "folder right 'manage'")
    # MODIFY, DELETE, MOVE
    if not (manage or (owner and right_at_least(node.right, "write"))):
        if owner:
            return Decision(False, f"folder right {node.right!r} < required 'write'")
        return Decision(
            False, "only the owner (with folder right 'write') or a folder manager changes it"
        )
    if action in (Action.DELETE, Action.MOVE) and not actor.may_delete:
        return Decision(False, f"category {actor.category!r} may not delete")
    return Decision(True, "folder right 'manage'" if manage else "owner with folder right 'write'")


def allowed_actions(actor: Actor, node: NodeFacts) -> list[Action]:
    """Every action ``actor`` may perform on ``node`` (``effective-access``)."""
    return [a for a in Action if decide(actor, a, node)]


@dataclass(frozen=True)
class RecordFacts:
    """A back-office record, or one of its attachments (rule 10).

    ``attachment_visibility`` is None for the record's folder itself;
    ``has_shared`` tells whether the record has a shared attachment.
    """

    kind: str  # member | product | activity
    linked_user_id: int | None = None
    attachment_visibility: str | None = None
    has_shared: bool = False


def is_staff(actor: Actor) -> bool:
    """Staff see every record: members level read or more, or document admins."""
    return actor.is_system or actor.documents == "admin" or level_at_least(actor.members, "read")


def decide_record(actor: Actor, action: Action, record: RecordFacts) -> Decision:
    """Rule 10: the back-office branch is read-only over WebDAV; who sees what."""
    if action not in READ_ACTIONS:
        return Decision(False, "the backoffice branch is read-only over WebDAV")
    if is_staff(actor):
        return Decision(True, "staff: members level read or more, or document administrator")
    if record.kind == "member":
        if record.linked_user_id is None or record.linked_user_id != actor.user_id:
            return Decision(False, "another member's record")
        if record.attachment_visibility == "private":
            return Decision(False, "private attachment: staff only")
        return Decision(True, "your own member record")
    if not level_at_least(actor.documents, "read"):
        return Decision(
            False, f"documents level {actor.documents!r} of category {actor.category!r} "
            "< required 'read'",
        )
    if record.attachment_visibility == "private":
        return Decision(False, "private attachment: staff only")
    if record.attachment_visibility is None and not record.has_shared:
        return Decision(False, "no shared attachment in this record")
    return Decision(True, f"shared {record.kind} attachment")


def may_enter_staff_pages(actor: Actor) -> Decision:
    """The admin view's staff pages: members >= read, config, or documents = admin.

    Everyone else who may sign in has "My account" only. What each staff page
    then shows or changes is decided by the use case's own rule.
    """
    if actor.is_system or actor.documents == "admin":
        return Decision(True, "document administrator")
    if actor.config:
        return Decision(True, "may change the configuration")
    if level_at_least(actor.members, "read"):
        return Decision(True, f"members level {actor.members!r}")
    return Decision(
        False, f"category {actor.category!r} has no members, configuration or document "
        "administration right",
    )


def may_administer_drive(actor: Actor) -> Decision:
    """The whole tree with every folder's rights, and "view as": document admins only.

    These pages show every item, including those the actor could not see
    over WebDAV, so they need the right that already sees everything.
    """
    if actor.is_system or actor.documents == "admin":
        return Decision(True, "document administrator")
    return Decision(
        False, f"documents level {actor.documents!r} of category {actor.category!r} "
        "< required 'admin'",
    )


def may_manage_trash(actor: Actor) -> Decision:
    """The trash (list, restore, purge): document administrators and the system.

    The trash holds items of every folder, including those the actor could not
    see, so it needs the right that already sees everything; nobody else ever
    sees a trashed item (DESIGN 4: invisible over WebDAV).
    """
    if actor.is_system or actor.documents == "admin":
        return Decision(True, "document administrator")
    return Decision(
        False, f"only document administrators manage the trash (documents level "
        f"{actor.documents!r} of category {actor.category!r})",
    )


def may_read_history(actor: Actor) -> Decision:
    """The event history and the connection statistics (seed 002: "as an administrator
    you see your collaborators' connection statistics"): those who may change the
    configuration, and document administrators. They show every user's actions and
    paths, hidden items included, so no lesser right reads them.
    """
    if actor.is_system or actor.documents == "admin":
        return Decision(True, "document administrator")
    if actor.config:
        return Decision(True, "may change the configuration")
    return Decision(
        False, f"category {actor.category!r} may neither change the configuration nor "
        "administer documents",
    )


@dataclass(frozen=True)
class LoginFacts:
    """What decides whether an account may sign in (rule 1)."""

    active: bool
    expired: bool
    category_login: bool
    inside_hours: bool


def decide_login(facts: LoginFacts) -> Decision:
    if not facts.active:
        return Decision(False, "the account is disabled")
    if facts.expired:
        return Decision(False, "the account has expired")
    if not facts.category_login:
        return Decision(False, "the account's category may not sign in")
    if not facts.inside_hours:
        return Decision(False, "outside the account's login hours")
    return Decision(True, "sign-in allowed")
