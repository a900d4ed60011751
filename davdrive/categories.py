"""Use cases for categories and document types, and the defaults of a new drive.

No HTTP and no printing: callers pass their session and commit (or roll
back) themselves. Each function validates everything before changing
anything, so a raised error leaves the session as it was; every change is
audited. ``actor`` (default: the system) is who acts: changing categories
and document types needs ``config`` (DESIGN 3.11), and no change may leave
the drive without an account able to administer (``last_admin``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from types import MappingProxyType
from typing import Any, Final

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from davdrive import tree
from davdrive.account_checks import (
    audit_change,
    check_level,
    check_slug,
    check_text,
    sees_hidden,
)
from davdrive.errors import BadRequest, Conflict, Forbidden, NotFound
from davdrive.last_admin import category_administers, guard_last_admin, rights_administer
from davdrive.models import LEVELS, Category, DocType, FolderRight, User
from davdrive.policy import SYSTEM, Actor
from davdrive.write_lock import take_write_lock

DEFAULT_DOC_TYPES: Final = (
    ("treasury", "Treasury"),
    ("receipt", "Receipt"),
    ("meal-attendance", "Meal attendance"),
    ("minutes", "Minutes"),
)

DEFAULT_CATEGORIES: Final[tuple[Mapping[str, Any], ...]] = (
    MappingProxyType(dict(
        slug="admin", label="Administrators", login=True, documents="admin", members="admin",
        config=True, may_delete=True, description="Everything, including configuration.",
    )),
    MappingProxyType(dict(
        slug="office", label="Office", documents="write", members="write",
        description="Board and staff: write documents, add and edit members.",
    )),
    MappingProxyType(dict(
        slug="member", label="Members", documents="read", members="none", is_default=True,
        excluded_doc_types=("treasury", "receipt", "meal-attendance"),
        description="Ordinary members: read documents.",
    )),
    MappingProxyType(dict(
        slug="former", label="Former members", hidden=True, login=False, documents="none",
        members="none", description="Kept for the record; cannot sign in.",
    )),
)

# Folder rights of a new drive's root: without any, only document administrators
# would see anything (a category's right is 'none' until a folder says otherwise).
DEFAULT_ROOT_RIGHTS: Final = (("office", "write"), ("member", "read"))


# --- look-ups --------------------------------------------------------------------


def get_category(session: Session, slug: str) -> Category:
    category = session.scalars(select(Category).where(Category.slug == slug)).first()
    if category is None:
        raise NotFound(f"No category {slug!r}.")
    return category


def default_category(session: Session) -> Category:
    category = session.scalars(select(Category).where(Category.is_default.is_(True))).first()
    if category is None:
        raise Conflict("There is no default category: name a category or make one the default.")
    return category


def get_doctype(session: Session, slug: str) -> DocType:
    doctype = session.scalars(select(DocType).where(DocType.slug == slug)).first()
    if doctype is None:
        raise NotFound(f"No document type {slug!r}.")
    return doctype


def list_categories(session: Session, actor: Actor = SYSTEM) -> list[Category]:
    """Categories by slug; hidden ones only for ``config`` or ``members=admin`` actors."""
    rows = session.scalars(select(Category).order_by(Category.slug)).all()
    return [c for c in rows if not c.hidden or sees_hidden(actor)]


def list_doctypes(session: Session) -> list[DocType]:
    return list(session.scalars(select(DocType).order_by(DocType.slug)))


def category_summary(category: Category, users: int | None = None) -> dict[str, Any]:
    """A JSON-ready description of a category with stable keys."""
    summary: dict[str, Any] = {
        "slug": category.slug,
        "label": category.label,
        "description": category.description,
        "hidden": category.hidden,
        "login": category.login,
        "documents": category.documents,
        "members": category.members,
        "config": category.config,
        "may_delete": category.may_delete,
        "excluded_doc_types": sorted(category.excluded_doc_types or []),
        "is_default": category.is_default,
    }
    if users is not None:
        summary["users"] = users
    return summary


def users_per_category(session: Session) -> dict[int, int]:
    rows = session.execute(select(User.category_id, func.count()).group_by(User.category_id))
    return {category_id: count for category_id, count in rows}


# --- document types ------------------------------------------------------------------


def _require_config(actor: Actor) -> None:
    if not actor.is_system and not actor.config:
        raise Forbidden("Only accounts allowed to change the configuration may do this.")


def add_doctype(
    session: Session, slug: str, label: str | None = None, actor: Actor = SYSTEM
) -> DocType:
    """Create a document type; Conflict if the slug exists."""
    _require_config(actor)
    check_slug(slug, "document type")
    check_text(label, 200, "The label")
    if session.scalars(select(DocType).where(DocType.slug == slug)).first() is not None:
        raise Conflict(f"The document type {slug!r} already exists.")
    doctype = DocType(slug=slug, label=label if label is not None else slug)
    session.add(doctype)
    session.flush()
    audit_change(session, actor, "doctype.add", detail=slug)
    return doctype


def _check_doc_types(session: Session, slugs: Iterable[str]) -> list[str]:
    wanted = sorted({s.strip() for s in slugs if s.strip()})
    known = {d.slug for d in list_doctypes(session)}
    unknown = [s for s in wanted if s not in known]
    if unknown:
        raise BadRequest(
            f"Unknown document type(s): {', '.join(unknown)} "
            f"(known: {', '.join(sorted(known)) or 'none'})."
        )
    return wanted


# --- categories ------------------------------------------------------------------------


def add_category(
    session: Session,
    slug: str,
    *,
    label: str | None = None,
    description: str = "",
    login: bool = True,
    documents: str = "read",
    members: str = "none",
    config: bool = False,
    hidden: bool = False,
    may_delete: bool = True,
    excluded_doc_types: Iterable[str] = (),
    is_default: bool = False,
    actor: Actor = SYSTEM,
) -> Category:
    """Create a category (defaults per DESIGN 8); making it default clears the others."""
    _require_config(actor)
    check_slug(slug, "category")
    check_text(label, 200, "The label")
    check_level(documents, LEVELS, "The documents level")
    check_level(members, LEVELS, "The members level")
    excluded = _check_doc_types(session, excluded_doc_types)
    if session.scalars(select(Category).where(Category.slug == slug)).first() is not None:
        raise Conflict(f"The category {slug!r} already exists.")
    category = Category(
        slug=slug, label=label if label is not None else slug, description=description,
        login=login, documents=documents, members=members, config=config, hidden=hidden,
        may_delete=may_delete, excluded_doc_types=excluded, is_default=False, version=1,
    )
    session.add(category)
    session.flush()
    if is_default:
        _make_default(session, category)
    audit_change(session, actor, "category.add", detail=slug)
    return category


def set_category(
    session: Session,
    slug: str,
    *,
    label: str | None = None,
    description: str | None = None,
    login: bool | None = None,
    documents: str | None = None,
    members: str | None = None,
    config: bool | None = None,
    hidden: bool | None = None,
    may_delete: bool | None = None,
    excluded_doc_types: Iterable[str] | None = None,
    is_default: bool | None = None,
    actor: Actor = SYSTEM,
) -> Category:
    """Change the given fields (None = unchanged) and bump ``category.version``.

    Refused (Conflict) when it would leave no account able to administer, or
    when it would clear the only default category.
    """
    _require_config(actor)
    category = get_category(session, slug)
    check_text(label, 200, "The label")
    changes: dict[str, Any] = {
        "label": label, "description": description, "login": login, "documents": documents,
        "members": members, "config": config, "hidden": hidden, "may_delete": may_delete,
    }
    changes = {k: v for k, v in changes.items() if v is not None}
    if documents is not None:
        check_level(documents, LEVELS, "The documents level")
    if members is not None:
        check_level(members, LEVELS, "The members level")
    if excluded_doc_types is not None:
        changes["excluded_doc_types"] = _check_doc_types(session, excluded_doc_types)
    if is_default is False and category.is_default:
        raise Conflict("Make another category the default instead of clearing this one.")
    _guard_category_change(session, category, changes)
    for field, value in changes.items():
        setattr(category, field, value)
    if is_default:
        _make_default(session, category)
    session.flush()
    bump_category_version(session, category.id)
    audit_change(session, actor, "category.set", detail=f"{slug}: {_describe(changes, is_default)}")
    return category


def bump_category_version(session: Session, category_id: int) -> None:
    """Add one to ``category.version`` in the caller's transaction.

    Every change of what a signed-in member of the category may do (its
    fields, its folder rights) calls this, so that every process's caches
    (``davdrive.rights_cache``, the sign-in cache) see it at the next request.
    The increment is done by the database, so concurrent bumps never collapse.
    """
    session.execute(
        update(Category)
        .where(Category.id == category_id)
        .values(version=Category.version + 1)
        .execution_options(synchronize_session="fetch")
    )


def _describe(changes: Mapping[str, Any], is_default: bool | None) -> str:
    items = [f"{k}={v}" for k, v in sorted(changes.items())]
    if is_default:
        items.append("is_default=True")
    return ", ".join(items) or "no change"


def _guard_category_change(session: Session, category: Category, changes: dict[str, Any]) -> None:
    after = rights_administer(
        changes.get("login", category.login),
        changes.get("config", category.config),
        changes.get("members", category.members),
    )
    if category_administers(category) and not after:
        members = session.scalars(select(User).where(User.category_id == category.id)).all()
        guard_last_admin(session, members, f"changing category {category.slug!r}")


def _make_default(session: Session, category: Category) -> None:
    for other in session.scalars(select(Category).where(Category.is_default.is_(True))):
        if other.id != category.id:
            other.is_default = False
    category.is_default = True
    session.flush()


# --- defaults ------------------------------------------------------------------------


def init_defaults(session: Session) -> list[str]:
    """Create what a new drive needs, if missing: DESIGN 8's doc types and categories
    and the root folder. Idempotent; never changes existing rows. Returns what it did.

    It holds the database's write lock from the start: ``init`` run by several hosts
    at once on one new database creates the defaults once (the others wait, then
    find them), instead of failing on a duplicate key."""
    take_write_lock(session, "init")
    done: list[str] = []
    known_types = {d.slug for d in list_doctypes(session)}
    for slug, label in DEFAULT_DOC_TYPES:
        if slug not in known_types:
            add_doctype(session, slug, label)
            done.append(f"created document type {slug!r}")
    known = {c.slug for c in session.scalars(select(Category))}
    has_default = session.scalars(select(Category).where(Category.is_default.is_(True))).first()
    for spec in DEFAULT_CATEGORIES:
        fields = dict(spec)
        slug = fields.pop("slug")
        if slug in known:
            continue
        if has_default is not None:
            fields["is_default"] = False
        add_category(session, slug, **fields)
        done.append(f"created category {slug!r}")
    if tree.resolve_chain(session, []) is None:
        root = tree.get_root(session)
        done.append("created the drive's root folder")
        for slug, level in DEFAULT_ROOT_RIGHTS:
            category = session.scalars(select(Category).where(Category.slug == slug)).first()
            if category is not None:
                session.add(FolderRight(folder_id=root.id, category_id=category.id, level=level))
                bump_category_version(session, category.id)
                done.append(f"gave category {slug!r} the right {level!r} on the root folder")
        session.flush()
    return done
