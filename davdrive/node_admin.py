"""Administration of drive nodes: folder rights, classification, explanations.

Used by the command line (and the admin view). Every change is checked by
the policy with the facts of the acting user, audited, and flushed; the
caller commits. ``explain`` lays out what a user may do on a path and why.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

from sqlalchemy import select
from sqlalchemy.orm import Session

from davdrive import tree
from davdrive.accounts import (
    actor_for,
    audit_change,
    check_degree,
    check_level,
    get_category,
    get_doctype,
    get_user,
)
from davdrive.categories import bump_category_version
from davdrive.errors import BadRequest, Conflict, Forbidden, NotFound
from davdrive.facts import FactBuilder
from davdrive.models import FOLDER_LEVELS, VISIBILITIES, Category, FolderRight, Node
from davdrive.paths import join, split_path, validate_name
from davdrive.policy import SYSTEM, Action, Actor, Decision, NodeFacts, decide
from davdrive.services import Drive

INHERIT: Final = "inherit"



def resolve_path(session: Session, path: str) -> Node:
    """The live node at ``path`` ('/' is the root); NotFound when missing."""
    chain = tree.resolve_chain(session, split_path(path))
    if chain is None:
        raise NotFound(f"No such item: {path}")
    return chain[-1]


def make_folders(session: Session, drive: Drive, path: str) -> tuple[Node, list[str]]:
    """``mkdir -p`` through ``drive``; returns the folder and the paths created.

    Every name is validated before anything is created.
    """
    parts = split_path(path)
    for part in parts:
        validate_name(part, windows=drive.options.windows_names)
    node = tree.get_root(session)
    created: list[str] = []
    for i, part in enumerate(parts):
        child = tree.child_named(session, node.id, part)
        if child is None:
            child = drive.make_folder(node, part)
            created.append(join(parts[: i + 1]))
        elif not child.is_folder:
            raise Conflict(f"{join(parts[: i + 1])} is a file, not a folder")
        node = child
    return node, created


def facts_for(session: Session, actor: Actor, node: Node) -> NodeFacts:
    """The policy's facts about ``node`` as seen by ``actor``."""
    chain = tree.ancestors(session, node)
    return FactBuilder(session, actor).chain(chain)[-1]


def _require_decision(session: Session, actor: Actor, action: Action, node: Node) -> None:
    decision = decide(actor, action, facts_for(session, actor, node))
    if not decision.allowed:
        raise Forbidden(f"Not allowed: {decision.reason}.")


def set_folder_rights(
    session: Session, folder: Node, rights: Mapping[str, str], actor: Actor = SYSTEM
) -> None:
    """Set per-category rights on a folder: none|read|write|manage, or 'inherit' to remove.

    'none' is stored as an explicit row meaning "no access here". Everything
    is validated before anything changes. Each category named gets its
    ``version`` bumped in the same transaction (``davdrive.rights_cache``).
    """
    if not folder.is_folder:
        raise BadRequest("Rights are set on folders, not on files.")
    _require_decision(session, actor, Action.SET_RIGHTS, folder)
    wanted: list[tuple[Category, str]] = []
    for slug, level in rights.items():
        if level != INHERIT:
            check_level(level, FOLDER_LEVELS, f"The folder right for {slug!r}")
        wanted.append((get_category(session, slug), level))
    for category, level in wanted:
        row = session.get(FolderRight, (folder.id, category.id))
        if level == INHERIT:
            if row is not None:
                session.delete(row)
        elif row is None:
            session.add(FolderRight(folder_id=folder.id, category_id=category.id, level=level))
        else:
            row.level = level
        # Cached rights of this category (every process) are stale from this commit on.
        bump_category_version(session, category.id)
    session.flush()
    detail = ", ".join(f"{c.slug}={level}" for c, level in wanted)
    audit_change(session, actor, "folder.rights", path=_path(session, folder), detail=detail)


def folder_rights(session: Session, folder: Node) -> dict[str, str]:
    """The explicit rights on ``folder``: {category slug: level}."""
    rows = session.execute(
        select(Category.slug, FolderRight.level)
        .join(Category, Category.id == FolderRight.category_id)
        .where(FolderRight.folder_id == folder.id)
        .order_by(Category.slug)
    )
    return {slug: level for slug, level in rows}


def node_set(
    session: Session,
    node: Node,
    min_degree: int | None = None,
    doc_type: str | None = None,
    visibility: str | None = None,
    protected: bool | None = None,
    owner_login: str | None = None,
    new_files_private: bool | None = None,
    *,
    actor: Actor = SYSTEM,
) -> Node:
    """Change a node's classification and settings (None = unchanged).

    ``doc_type=""`` clears the doc type; ``owner_login=""`` makes the system
    the owner. ``new_files_private`` applies to folders only.
    """
    if min_degree is not None:
        check_degree(min_degree)
    if doc_type:
        get_doctype(session, doc_type)
    if visibility is not None:
        check_level(visibility, VISIBILITIES, "The visibility")
    if new_files_private is not None and not node.is_folder:
        raise BadRequest("--new-files-private/--new-files-shared apply to folders only.")
    owner = get_user(session, owner_login) if owner_login else None
    _guard_node_set(session, node, actor, classify=min_degree is not None or doc_type is not None
                    or protected is not None or owner_login is not None
                    or new_files_private is not None, visibility=visibility is not None)
    changes: dict[str, Any] = {
        "min_degree": min_degree, "visibility": visibility, "protected": protected,
        "new_files_private": new_files_private,
    }
    changes = {k: v for k, v in changes.items() if v is not None}
    if doc_type is not None:
        changes["doc_type"] = doc_type or None
    if owner_login is not None:
        changes["owner_id"] = owner.id if owner else None
    for field, value in changes.items():
        setattr(node, field, value)
    session.flush()
    detail = ", ".join(f"{k}={v}" for k, v in sorted(changes.items())) or "no change"
    audit_change(session, actor, "node.set", path=_path(session, node), detail=detail)
    return node


def _guard_node_set(
    session: Session, node: Node, actor: Actor, *, classify: bool, visibility: bool
) -> None:
    if classify:
        _require_decision(session, actor, Action.SET_CLASSIFICATION, node)
    if visibility:
        _require_decision(session, actor, Action.SET_VISIBILITY, node)


def _path(session: Session, node: Node) -> str:
    return join(tree.path_of(session, node))




# --- explain -------------------------------------------------------------------------


@dataclass(frozen=True)
class Explanation:
    """What one user may do on one path, and why, step by step."""

    login: str
    category: str
    degree: int
    path: str
    exists_for_user: bool
    steps: list[tuple[str, Decision]]  # (path of each folder on the way, may the user see it)
    decisions: list[tuple[Action, Decision]]

    def as_dict(self) -> dict[str, Any]:
        return {
            "login": self.login,
            "category": self.category,
            "degree": self.degree,
            "path": self.path,
            "exists_for_user": self.exists_for_user,
            "path_steps": [
                {"path": p, "seen": d.allowed, "reason": d.reason} for p, d in self.steps
            ],
            "actions": {
                a.value: {"allowed": d.allowed, "reason": d.reason} for a, d in self.decisions
            },
        }


def explain(session: Session, login: str, path: str) -> Explanation:
    """Every action of the policy for ``login`` on ``path``, with the policy's reasons.

    The path must exist; an item the user cannot see is reported as such,
    with the reason for the first step of the path they cannot see.
    """
    user = get_user(session, login)
    actor = actor_for(user)
    parts = split_path(path)
    chain = tree.resolve_chain(session, parts)
    if chain is None:
        raise NotFound(f"No such item: {join(parts)}")
    all_facts = FactBuilder(session, actor).chain(chain)
    steps = [
        (join(parts[:i]), decide(actor, Action.SEE, f)) for i, f in enumerate(all_facts)
    ]
    hidden = next(((p, d) for p, d in steps if not d.allowed), None)
    decisions = []
    for action in Action:
        decision = decide(actor, action, all_facts[-1])
        if hidden is not None:
            where = "it" if hidden[0] == join(parts) else f"{hidden[0]} on the way"
            decision = Decision(False, f"{where} does not exist for them: {hidden[1].reason}")
        decisions.append((action, decision))
    return Explanation(
        login=user.login, category=user.category.slug, degree=user.degree, path=join(parts),
        exists_for_user=hidden is None, steps=steps, decisions=decisions,
    )
