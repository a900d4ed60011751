"""The rights engine: pure facts in, decision out.

``decide(actor, action, node)`` is the only place where rights are decided.
It does no I/O: callers gather the facts (``Actor``, ``NodeFacts``) and act on
the ``Decision``, whose ``reason`` is written for humans ("documents level
'read' < required 'write'").

This version implements the foundation rules: document admins may do
everything except touch protected items; other signed-in users need the
documents level ``read`` to see and read and ``write`` to create, modify,
delete and move; only the system adds into or changes protected items.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from davdrive.models import LEVELS


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


WRITE_ACTIONS = frozenset({Action.CREATE, Action.MODIFY, Action.DELETE, Action.MOVE})


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
class NodeFacts:
    """What the policy needs to know about one node."""

    is_folder: bool
    owner_id: int | None = None
    protected: bool = False
    is_root: bool = False


@dataclass(frozen=True)
class Decision:
    allowed: bool
    reason: str

    def __bool__(self) -> bool:
        return self.allowed


def level_at_least(level: str, required: str) -> bool:
    return LEVELS.index(level) >= LEVELS.index(required)


def decide(actor: Actor, action: Action, node: NodeFacts) -> Decision:
    """Decide whether ``actor`` may perform ``action`` on ``node``.

    For ``CREATE`` the node is the folder that receives the new item.
    """
    if actor.is_system:
        return Decision(True, "the system may do everything")
    if node.protected and action is not Action.SEE and action is not Action.READ:
        return Decision(False, "the item is protected: only the system changes it")
    if action in (Action.DELETE, Action.MOVE) and node.is_root:
        return Decision(False, "the root folder cannot be deleted or moved")
    if actor.documents == "admin":
        return Decision(True, "document administrator")
    if action in (Action.SEE, Action.READ):
        required = "read"
    elif action in WRITE_ACTIONS or action is Action.SET_VISIBILITY:
        required = "write"
    else:
        return Decision(False, f"only document administrators may {action.value}")
    if not level_at_least(actor.documents, required):
        return Decision(
            False,
            f"documents level {actor.documents!r} of category {actor.category!r} "
            f"< required {required!r}",
        )
    if action is Action.DELETE and not actor.may_delete:
        return Decision(False, f"category {actor.category!r} may not delete")
    return Decision(True, f"documents level {actor.documents!r} >= {required!r}")


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
