"""The last-administrator rule (seed 001).

An account administers when it is active, not expired, and its category
may sign in and has ``config`` or ``members=admin``. ``guard_last_admin``
refuses (Conflict) any change after which no such account would remain;
the account use cases call it before changing anything.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

from sqlalchemy import select
from sqlalchemy.orm import Session

from davdrive.account_checks import as_utc
from davdrive.errors import Conflict
from davdrive.models import Category, User, utcnow


def rights_administer(login: bool, config: bool, members: str) -> bool:
    """Whether a category with these rights administers."""
    return login and (config or members == "admin")


def category_administers(category: Category) -> bool:
    """Whether members of ``category`` can administer accounts and configuration."""
    return rights_administer(category.login, category.config, category.members)


def account_administers(active: bool, expires_at: dt.datetime | None, category: Category) -> bool:
    """Whether an account with these settings would administer right now."""
    expires = as_utc(expires_at)
    return active and (expires is None or expires > utcnow()) and category_administers(category)


def can_administer(user: User) -> bool:
    """Whether ``user`` can sign in and administer right now."""
    return account_administers(user.active, user.expires_at, user.category)


def administrators(session: Session) -> list[User]:
    """Every account able to administer right now."""
    return [u for u in session.scalars(select(User)) if can_administer(u)]


def guard_last_admin(session: Session, losing: Iterable[User], what: str) -> None:
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
