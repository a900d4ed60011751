"""Use cases for categories, users, document types, folder rights and node settings.

No HTTP and no printing: the CLI and the admin view call these with the
caller's session and commit (or roll back) themselves. Each function
validates everything before changing anything, so a raised error leaves the
session as it was. Every change is audited.

``actor`` (default: the system) is who acts. The system may do everything
except break seed 001's safety rule: the last account able to administer
(active, allowed to sign in, category with ``config`` or ``members=admin``)
can be neither removed, demoted nor disabled. A non-system actor is held to
DESIGN 3.11 as well: nobody deletes their own account or changes their own
category; ``members=write`` adds users (into the default category) and edits
them, but never deletes them, changes their category or edits accounts of
administering categories; ``members=admin`` does everything with users;
categories and document types need ``config``.
"""

from __future__ import annotations

import datetime as dt
import re
import secrets
import unicodedata
from collections.abc import Iterable, Mapping
from enum import Enum
from types import MappingProxyType
from typing import Any, Final, Literal

from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session

from davdrive import audit, tree
from davdrive.errors import BadRequest, Conflict, Forbidden, NotFound
from davdrive.hours import normalize_hours, parse_hours
from davdrive.models import (
    LEVELS,
    AppPassword,
    Category,
    DocType,
    FolderRight,
    Node,
    Record,
    User,
    utcnow,
)
from davdrive.passwords import Passwords, generate_password, token_hash
from davdrive.policy import SYSTEM, Actor, LoginFacts

MIN_PASSWORD_LENGTH: Final = 8
MAX_PASSWORD_LENGTH: Final = 1024
MAX_LOGIN_LENGTH: Final = 150
_SLUG = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")
_LOGIN = re.compile(r"^[\w.@+-]+$")
INHERIT: Final = "inherit"


class _Unset(Enum):
    UNSET = "unset"


UNSET: Final = _Unset.UNSET
"""Marks an argument that was not given (where ``None`` is a meaningful value)."""

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


# --- small helpers -----------------------------------------------------------------


def _as_utc(moment: dt.datetime | None) -> dt.datetime | None:
    """Aware UTC datetime; naive values (as SQLite returns them) are taken as UTC."""
    if moment is None:
        return None
    return moment.replace(tzinfo=dt.UTC) if moment.tzinfo is None else moment.astimezone(dt.UTC)


def check_level(value: str, allowed: tuple[str, ...], what: str) -> str:
    if value not in allowed:
        raise BadRequest(f"{what} must be one of {', '.join(allowed)}, not {value!r}.")
    return value


def check_slug(slug: str, what: str = "slug") -> str:
    """Return ``slug`` if it is lowercase letters, digits, '-' or '_' (max 64), else raise."""
    if not _SLUG.match(slug):
        raise BadRequest(
            f"Invalid {what} {slug!r}: use lowercase letters, digits, '-' and '_' "
            "(at most 64, starting with a letter or digit)."
        )
    return slug


def check_login(login: str) -> str:
    """Return the NFC login if it may be used, else raise BadRequest."""
    login = unicodedata.normalize("NFC", login)
    if not login or len(login) > MAX_LOGIN_LENGTH or not _LOGIN.match(login):
        raise BadRequest(
            f"Invalid login {login!r}: use 1 to {MAX_LOGIN_LENGTH} letters, digits "
            "and . _ @ + - (no spaces or colons)."
        )
    return login


def login_key(login: str) -> str:
    """The case-insensitive key under which a login is unique."""
    return unicodedata.normalize("NFC", login).casefold()


def _check_password(password: str) -> str:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise BadRequest(f"The password must have at least {MIN_PASSWORD_LENGTH} characters.")
    if len(password) > MAX_PASSWORD_LENGTH:
        raise BadRequest(f"The password must have at most {MAX_PASSWORD_LENGTH} characters.")
    if any(ord(ch) < 32 or ord(ch) == 127 for ch in password):
        raise BadRequest("The password may not contain control characters.")
    return password


def _check_hours(hours: str) -> str:
    try:
        return normalize_hours(hours)
    except ValueError as exc:
        raise BadRequest(str(exc)) from exc


def _check_text(value: str | None, limit: int, what: str) -> str:
    text = value or ""
    if len(text) > limit:
        raise BadRequest(f"{what} may have at most {limit} characters.")
    if any(ord(ch) < 32 or ord(ch) == 127 for ch in text):
        raise BadRequest(f"{what} may not contain control characters.")
    return text


def check_degree(degree: int) -> int:
    if degree < 0:
        raise BadRequest(f"The degree must be 0 or more, not {degree}.")
    return degree


def audit_change(
    session: Session, actor: Actor, action: str, path: str = "", detail: str = ""
) -> None:
    audit.record(session, user=actor.login, action=action, path=path, detail=detail)


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


def find_user(session: Session, login: str) -> User | None:
    return session.scalars(select(User).where(User.login_key == login_key(login))).first()


def get_user(session: Session, login: str) -> User:
    user = find_user(session, login)
    if user is None:
        raise NotFound(f"No user {login!r}.")
    return user


def get_doctype(session: Session, slug: str) -> DocType:
    doctype = session.scalars(select(DocType).where(DocType.slug == slug)).first()
    if doctype is None:
        raise NotFound(f"No document type {slug!r}.")
    return doctype


def list_categories(session: Session, actor: Actor = SYSTEM) -> list[Category]:
    """Categories by slug; hidden ones only for ``config`` or ``members=admin`` actors."""
    rows = session.scalars(select(Category).order_by(Category.slug)).all()
    return [c for c in rows if not c.hidden or _sees_hidden(actor)]


def list_users(session: Session, actor: Actor = SYSTEM) -> list[User]:
    """Users by login; needs ``members >= read``; hidden categories only for admins."""
    if not actor.is_system and actor.members == "none":
        raise Forbidden("Listing users needs the members level 'read' or more.")
    rows = session.scalars(select(User).order_by(User.login_key)).all()
    return [u for u in rows if not u.category.hidden or _sees_hidden(actor)]


def list_doctypes(session: Session) -> list[DocType]:
    return list(session.scalars(select(DocType).order_by(DocType.slug)))


def _sees_hidden(actor: Actor) -> bool:
    return actor.is_system or actor.config or actor.members == "admin"


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


def user_summary(user: User) -> dict[str, Any]:
    """A JSON-ready description of a user with stable keys (never the password hash)."""
    expires = _as_utc(user.expires_at)
    return {
        "login": user.login,
        "display_name": user.display_name,
        "email": user.email,
        "category": user.category.slug,
        "degree": user.degree,
        "active": user.active,
        "expires_at": expires.isoformat() if expires else None,
        "login_hours": user.login_hours,
    }


def users_per_category(session: Session) -> dict[int, int]:
    rows = session.execute(select(User.category_id, func.count()).group_by(User.category_id))
    return {category_id: count for category_id, count in rows}


# --- the last-administrator rule (seed 001) --------------------------------------------


def _rights_administer(login: bool, config: bool, members: str) -> bool:
    return login and (config or members == "admin")


def category_administers(category: Category) -> bool:
    """Whether members of ``category`` can administer accounts and configuration."""
    return _rights_administer(category.login, category.config, category.members)


def _account_administers(active: bool, expires_at: dt.datetime | None, category: Category) -> bool:
    expires = _as_utc(expires_at)
    return active and (expires is None or expires > utcnow()) and category_administers(category)


def can_administer(user: User) -> bool:
    """Whether ``user`` can sign in and administer right now."""
    return _account_administers(user.active, user.expires_at, user.category)


def administrators(session: Session) -> list[User]:
    """Every account able to administer right now."""
    return [u for u in session.scalars(select(User)) if can_administer(u)]


def _guard_last_admin(session: Session, losing: Iterable[User], what: str) -> None:
    """Refuse when every account able to administer would lose that ability."""
    losing_ids = {u.id for u in losing if can_administer(u)}
    if not losing_ids:
        return
    remaining = [u for u in administrators(session) if u.id not in losing_ids]
    if not remaining:
        raise Conflict(
            f"Refused: {what} would leave no account able to administer; "
            "make another account an administrator first."
        )


# --- document types ------------------------------------------------------------------


def add_doctype(
    session: Session, slug: str, label: str | None = None, actor: Actor = SYSTEM
) -> DocType:
    """Create a document type; Conflict if the slug exists."""
    _require_config(actor)
    check_slug(slug, "document type")
    _check_text(label, 200, "The label")
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


def _require_config(actor: Actor) -> None:
    if not actor.is_system and not actor.config:
        raise Forbidden("Only accounts allowed to change the configuration may do this.")


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
    _check_text(label, 200, "The label")
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
    _check_text(label, 200, "The label")
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
    category.version = (category.version or 0) + 1
    session.flush()
    audit_change(session, actor, "category.set", detail=f"{slug}: {_describe(changes, is_default)}")
    return category


def _describe(changes: Mapping[str, Any], is_default: bool | None) -> str:
    items = [f"{k}={v}" for k, v in sorted(changes.items())]
    if is_default:
        items.append("is_default=True")
    return ", ".join(items) or "no change"


def _guard_category_change(session: Session, category: Category, changes: dict[str, Any]) -> None:
    after = _rights_administer(
        changes.get("login", category.login),
        changes.get("config", category.config),
        changes.get("members", category.members),
    )
    if category_administers(category) and not after:
        members = session.scalars(select(User).where(User.category_id == category.id)).all()
        _guard_last_admin(session, members, f"changing category {category.slug!r}")


def _make_default(session: Session, category: Category) -> None:
    for other in session.scalars(select(Category).where(Category.is_default.is_(True))):
        if other.id != category.id:
            other.is_default = False
    category.is_default = True
    session.flush()


# --- users ---------------------------------------------------------------------------


def _require_members(actor: Actor, level: str, what: str) -> None:
    if actor.is_system or actor.members == "admin":
        return
    if level == "write" and actor.members == "write":
        return
    raise Forbidden(f"Not allowed: {what} needs the members level {level!r}.")


def _is_privileged(category: Category) -> bool:
    return category.config or category.members == "admin" or category.documents == "admin"


def add_user(
    session: Session,
    passwords: Passwords,
    login: str,
    category: str | None = None,
    degree: int = 1,
    password: str | None = None,
    active: bool = True,
    expires_at: dt.datetime | None = None,
    hours: str = "",
    *,
    display_name: str = "",
    email: str = "",
    actor: Actor = SYSTEM,
) -> tuple[User, str]:
    """Create a user; return it with its password (generated when none is given).

    Logins are unique case-insensitively (Conflict). ``category`` defaults to
    the default category; ``hours`` is stored in canonical form.
    """
    _require_members(actor, "write", "adding users")
    login = check_login(login)
    _check_text(display_name, 200, "The display name")
    _check_text(email, 254, "The e-mail address")
    if find_user(session, login) is not None:
        raise Conflict(f"The login {login!r} is already taken.")
    cat = get_category(session, category) if category else default_category(session)
    if not actor.is_system and actor.members != "admin" and not cat.is_default:
        raise Forbidden(
            "Not allowed: only members administrators add users outside the default category."
        )
    password = _check_password(password) if password is not None else generate_password()
    user = User(
        login=login, login_key=login_key(login), display_name=display_name, email=email,
        category=cat, degree=check_degree(degree), active=active,
        expires_at=_as_utc(expires_at), login_hours=_check_hours(hours),
        password_hash=passwords.hash(password), auth_version=1,
    )
    session.add(user)
    session.flush()
    audit_change(session, actor, "user.add", detail=f"{login} ({cat.slug})")
    return user, password


def set_user(
    session: Session,
    passwords: Passwords,
    login: str,
    *,
    category: str | None = None,
    degree: int | None = None,
    password: str | None = None,
    active: bool | None = None,
    expires_at: dt.datetime | None | Literal[_Unset.UNSET] = UNSET,
    hours: str | None = None,
    display_name: str | None = None,
    email: str | None = None,
    actor: Actor = SYSTEM,
) -> User:
    """Change the given fields (None/UNSET = unchanged; ``expires_at=None`` clears it).

    A change of password, category, active flag, expiry or hours bumps
    ``auth_version`` (cached credentials are dropped). Conflict when it would
    leave no account able to administer.
    """
    user = get_user(session, login)
    new_category = get_category(session, category) if category is not None else user.category
    new_expiry = _as_utc(user.expires_at if expires_at is UNSET else expires_at)
    new_hours = _check_hours(hours) if hours is not None else None
    if password is not None:
        _check_password(password)
    if degree is not None:
        check_degree(degree)
    given = {
        "degree": degree, "password": password, "active": active, "hours": hours,
        "display_name": display_name, "email": email,
        "expires_at": None if expires_at is UNSET else "given",
        "category": None if new_category.id == user.category_id else category,
    }
    _guard_user_edit(user, actor, {k for k, v in given.items() if v is not None})
    _check_text(display_name, 200, "The display name")
    _check_text(email, 254, "The e-mail address")
    still = user.active if active is None else active
    if not _account_administers(still, new_expiry, new_category):
        _guard_last_admin(session, [user], f"changing {user.login!r}")
    auth_changed = _apply_user_changes(
        user, new_category, new_expiry, new_hours, active, password, passwords
    )
    if degree is not None:
        user.degree = degree
    if display_name is not None:
        user.display_name = display_name
    if email is not None:
        user.email = email
    if auth_changed:
        user.auth_version = (user.auth_version or 0) + 1
    session.flush()
    audit_change(session, actor, "user.set", detail=user.login)
    return user


def _apply_user_changes(
    user: User,
    category: Category,
    expiry: dt.datetime | None,
    hours: str | None,
    active: bool | None,
    password: str | None,
    passwords: Passwords,
) -> bool:
    """Apply the sign-in-relevant changes; True when any of them changed something."""
    changed = False
    if category.id != user.category_id:
        user.category_id = category.id
        user.category = category
        changed = True
    if _as_utc(user.expires_at) != expiry:
        user.expires_at = expiry
        changed = True
    if hours is not None and hours != user.login_hours:
        user.login_hours = hours
        changed = True
    if active is not None and active != user.active:
        user.active = active
        changed = True
    if password is not None:
        user.password_hash = passwords.hash(password)
        changed = True
    return changed


_PERSONAL_FIELDS: Final = frozenset({"password", "display_name", "email"})


def _guard_user_edit(user: User, actor: Actor, fields: set[str]) -> None:
    """DESIGN 3.11 for a non-system actor changing ``fields`` of ``user``."""
    if actor.is_system:
        return
    own = actor.user_id == user.id
    if "category" in fields:
        if own:
            raise Forbidden("Nobody changes their own category; ask another administrator.")
        _require_members(actor, "admin", "changing a user's category")
    if own and fields <= _PERSONAL_FIELDS:
        return
    _require_members(actor, "write", "editing users")
    if actor.members != "admin" and _is_privileged(user.category):
        raise Forbidden("Not allowed: only members administrators edit administrators' accounts.")


def reset_password(
    session: Session, passwords: Passwords, login: str, actor: Actor = SYSTEM
) -> str:
    """Give ``login`` a new generated password and return it."""
    password = generate_password()
    set_user(session, passwords, login, password=password, actor=actor)
    return password


def delete_user(session: Session, login: str, actor: Actor = SYSTEM) -> None:
    """Delete an account (its app passwords go with it; its files become the system's)."""
    user = get_user(session, login)
    if not actor.is_system:
        if actor.user_id == user.id:
            raise Forbidden("Nobody deletes their own account; ask another administrator.")
        _require_members(actor, "admin", "deleting users")
    _guard_last_admin(session, [user], f"deleting {user.login!r}")
    session.execute(delete(AppPassword).where(AppPassword.user_id == user.id))
    session.execute(update(Node).where(Node.owner_id == user.id).values(owner_id=None))
    session.execute(update(Record).where(Record.user_id == user.id).values(user_id=None))
    session.delete(user)
    session.flush()
    audit_change(session, actor, "user.delete", detail=user.login)


def app_password(session: Session, login: str, label: str = "", actor: Actor = SYSTEM) -> str:
    """Create an app password for ``login`` and return the token (only its hash is kept)."""
    user = get_user(session, login)
    if not actor.is_system and actor.user_id != user.id:
        _require_members(actor, "admin", "creating app passwords for others")
    token = secrets.token_urlsafe(24)
    session.add(AppPassword(user_id=user.id, label=label, token_hash=token_hash(token)))
    session.flush()
    audit_change(session, actor, "app_password.add", detail=f"{user.login}: {label}")
    return token


def revoke_app_password(
    session: Session, login: str, label: str, actor: Actor = SYSTEM
) -> int:
    """Revoke every live app password of ``login`` labelled ``label``; return how many.

    Sign-in checks app passwords on every request (they are never cached), so
    the revocation holds from the next request on. NotFound when none matches.
    """
    user = get_user(session, login)
    if not actor.is_system and actor.user_id != user.id:
        _require_members(actor, "admin", "revoking app passwords of others")
    rows = session.scalars(
        select(AppPassword).where(
            AppPassword.user_id == user.id,
            AppPassword.label == label,
            AppPassword.revoked_at.is_(None),
        )
    ).all()
    if not rows:
        raise NotFound(f"No live app password labelled {label!r} for {user.login!r}.")
    for row in rows:
        row.revoked_at = utcnow()
    session.flush()
    audit_change(session, actor, "app_password.revoke", detail=f"{user.login}: {label}")
    return len(rows)


def actor_for(user: User) -> Actor:
    """The policy's view of a signed-in user."""
    c = user.category
    return Actor(
        user_id=user.id,
        login=user.login,
        category=c.slug,
        documents=c.documents,
        members=c.members,
        config=c.config,
        may_delete=c.may_delete,
        degree=user.degree,
        excluded_doc_types=frozenset(c.excluded_doc_types or ()),
    )


def login_facts(user: User, now: dt.datetime) -> LoginFacts:
    """The facts the sign-in rule of the policy needs about ``user`` at ``now``."""
    expires = user.expires_at
    if expires is not None and expires.tzinfo is None:
        expires = expires.replace(tzinfo=dt.UTC)
    try:
        inside = parse_hours(user.login_hours or "").allows(now.astimezone())
    except ValueError:
        inside = False  # an unreadable schedule never opens the door
    return LoginFacts(
        active=user.active,
        expired=expires is not None and expires <= now,
        category_login=user.category.login,
        inside_hours=inside,
    )


# --- defaults ------------------------------------------------------------------------


def init_defaults(session: Session) -> list[str]:
    """Create what a new drive needs, if missing: DESIGN 8's doc types and categories
    and the root folder. Idempotent; never changes existing rows. Returns what it did."""
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
                done.append(f"gave category {slug!r} the right {level!r} on the root folder")
        session.flush()
    return done
