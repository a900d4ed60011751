"""Listing a user's app passwords (creation and revocation are in ``accounts``).

What a user (or a members admin) sees: each token's label, when it was
created, last used and revoked; never the token or its hash.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from davdrive.accounts import get_user
from davdrive.errors import Forbidden
from davdrive.models import AppPassword
from davdrive.policy import SYSTEM, Actor


@dataclass(frozen=True)
class AppPasswordInfo:
    label: str
    created_at: dt.datetime
    last_used_at: dt.datetime | None
    revoked_at: dt.datetime | None

    @property
    def live(self) -> bool:
        return self.revoked_at is None


def list_app_passwords(
    session: Session, login: str, actor: Actor = SYSTEM, *, include_revoked: bool = False
) -> list[AppPasswordInfo]:
    """The app passwords of ``login``, oldest first; only the user and members admins see them."""
    user = get_user(session, login)
    if not (actor.is_system or actor.user_id == user.id or actor.members == "admin"):
        raise Forbidden("Not allowed: listing app passwords of others needs the members "
                        "level 'admin'.")
    query = select(AppPassword).where(AppPassword.user_id == user.id)
    if not include_revoked:
        query = query.where(AppPassword.revoked_at.is_(None))
    rows = session.scalars(query.order_by(AppPassword.created_at, AppPassword.id)).all()
    return [AppPasswordInfo(r.label, r.created_at, r.last_used_at, r.revoked_at) for r in rows]
