"""Use cases for user accounts and app passwords, and the policy's view of a user.

No HTTP and no printing: callers pass their session and commit (or roll
back) themselves. Each function validates everything before changing
anything, so a raised error leaves the session as it was; every change is
audited. ``actor`` (default: the system) is who acts. The system may do
everything except leave no account able to administer (``last_admin``). A
non-system actor is held to DESIGN 3.11 as well: nobody deletes their own
account or changes their own category; ``members=write`` adds users (into the
default category) and edits them, but never deletes them, changes their
category or edits accounts of administering categories; ``members=admin``
does everything with users.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any, Final, Literal

from sqlalchemy import delete, func, or_, select, update
from sqlalchemy.orm import Session, contains_eager
from sqlalchemy.sql import ColumnElement

from davdrive.account_checks import (
    UNSET,
    Unset,
    as_utc,
    audit_change,
    check_degree,
    check_hours,
    check_login,
    check_password,
    check_text,
    describe_changes,
    login_key,
    sees_hidden,
)
from davdrive.categories import default_category, get_category
from davdrive.errors import Conflict, Forbidden, NotFound
from davdrive.hours import parse_hours
from davdrive.last_admin import account_administers, guard_last_admin
from davdrive.models import AppPassword, Category, Node, Record, User, utcnow
from davdrive.paging import check_per_page, clamp_page, page_count
from davdrive.passwords import Passwords, command_line_safe_token, generate_password, token_hash
from davdrive.policy import SYSTEM, Actor, LoginFacts

# --- look-ups --------------------------------------------------------------------


def find_user(session: Session, login: str) -> User | None:
    return session.scalars(select(User).where(User.login_key == login_key(login))).first()


def get_user(session: Session, login: str) -> User:
    user = find_user(session, login)
    if user is None:
        raise NotFound(f"No user {login!r}.")
    return user


def list_users(session: Session, actor: Actor = SYSTEM) -> list[User]:
    """Users by login; needs ``members >= read``; hidden categories only for admins."""
    if not actor.is_system and actor.members == "none":
        raise Forbidden("Listing users needs the members level 'read' or more.")
    rows = session.scalars(select(User).order_by(User.login_key)).all()
    return [u for u in rows if not u.category.hidden or sees_hidden(actor)]


@dataclass(frozen=True)
class UserPage:
    """One page of a user search: ``total`` matches in all, this being ``page`` of ``pages``."""

    users: list[User]
    total: int
    page: int
    per_page: int

    @property
    def pages(self) -> int:
        return page_count(self.total, self.per_page)


def search_users(
    session: Session, actor: Actor, *, category: str | None = None, active: bool | None = None,
    text: str = "", page: int = 1, per_page: int = 50,
) -> UserPage:
    """One page, by login, of the users matching every filter given; needs ``members >= read``.

    ``text`` is a case-insensitive substring of the login, display name or
    e-mail (``%`` and ``_`` match themselves). An unknown ``category`` gives an
    empty page. Users of hidden categories are left out (in the query, so the
    total agrees) unless ``sees_hidden(actor)``. ``page`` is clamped to
    [1, pages]; ``per_page`` is 1 to 200 (else BadRequest). Two statements
    whatever the number of users: the count, then the page with its categories.
    """
    if not actor.is_system and actor.members == "none":
        raise Forbidden("Searching users needs the members level 'read' or more.")
    check_per_page(per_page)
    where: list[ColumnElement[bool]] = []
    if not sees_hidden(actor):
        where.append(Category.hidden.is_(False))
    if category is not None:
        where.append(Category.slug == category)
    if active is not None:
        where.append(User.active == active)
    if text:
        where.append(or_(
            User.login_key.contains(login_key(text), autoescape=True),
            User.display_name.icontains(text, autoescape=True),
            User.email.icontains(text, autoescape=True),
        ))
    count = select(func.count()).select_from(User).join(User.category).where(*where)
    total = session.scalar(count) or 0
    page = clamp_page(page, total, per_page)
    rows = session.scalars(
        select(User).join(User.category).options(contains_eager(User.category))
        .where(*where).order_by(User.login_key).limit(per_page).offset((page - 1) * per_page)
    ).all()
    return UserPage(list(rows), total, page, per_page)


def user_summary(user: User) -> dict[str, Any]:
    """A JSON-ready description of a user with stable keys (never the password hash)."""
    expires = as_utc(user.expires_at)
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
    check_text(display_name, 200, "The display name")
    check_text(email, 254, "The e-mail address")
    if find_user(session, login) is not None:
        raise Conflict(f"The login {login!r} is already taken.")
    cat = get_category(session, category) if category else default_category(session)
    if not actor.is_system and actor.members != "admin" and not cat.is_default:
        raise Forbidden(
            "Not allowed: only members administrators add users outside the default category."
        )
    password = check_password(password) if password is not None else generate_password()
    user = User(
        login=login, login_key=login_key(login), display_name=display_name, email=email,
        category=cat, degree=check_degree(degree), active=active,
        expires_at=as_utc(expires_at), login_hours=check_hours(hours),
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
    expires_at: dt.datetime | None | Literal[Unset.UNSET] = UNSET,
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
    new_expiry = as_utc(user.expires_at if expires_at is UNSET else expires_at)
    new_hours = check_hours(hours) if hours is not None else None
    if password is not None:
        check_password(password)
    if degree is not None:
        check_degree(degree)
    given = {
        "degree": degree, "password": password, "active": active, "hours": hours,
        "display_name": display_name, "email": email,
        "expires_at": None if expires_at is UNSET else (
            new_expiry.isoformat() if new_expiry else "never"),
        "category": None if new_category.id == user.category_id else category,
    }
    _guard_user_edit(user, actor, {k for k, v in given.items() if v is not None})
    check_text(display_name, 200, "The display name")
    check_text(email, 254, "The e-mail address")
    still = user.active if active is None else active
    if not account_administers(still, new_expiry, new_category):
        guard_last_admin(session, [user], f"changing {user.login!r}")
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
    audit_change(session, actor, "user.set", detail=f"{user.login}: {describe_changes(given)}")
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
    if as_utc(user.expires_at) != expiry:
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
    guard_last_admin(session, [user], f"deleting {user.login!r}")
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
    token = command_line_safe_token(24)
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
