"""What sign-in needs to know about an account, read with one Core statement.

``AccountRow`` holds the user's and its category's columns that decide
whether the account may sign in (``login_facts``) and what it may do once
signed in (``actor``), plus the two version counters: ``auth_version``
(bumped with the password, category, active flag, expiry or hours) and the
category's ``version`` (bumped with any category field or folder right of
the category). ``by_id`` and ``by_login`` each run one SELECT over primary or
unique keys, with no ORM objects, so a signed-in request pays one small
statement for its whole identity. No rule is decided here: the caller asks
``davdrive.policy.decide_login``.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from sqlalchemy import Connection, bindparam, select

from davdrive.account_checks import login_key
from davdrive.hours import parse_hours
from davdrive.models import Category, TreeState, User
from davdrive.policy import Actor, LoginFacts
from davdrive.prepared import Prepared


@dataclass(frozen=True)
class AccountRow:
    """One user row joined with its category (values only, never an ORM object)."""

    user_id: int
    login: str
    password_hash: str
    auth_version: int
    degree: int
    active: bool
    expires_at: dt.datetime | None
    login_hours: str
    category_id: int
    category_slug: str
    category_version: int
    category_login: bool
    documents: str
    members: str
    config: bool
    may_delete: bool
    excluded_doc_types: tuple[str, ...]

    @property
    def rights_stamp(self) -> tuple[int, int]:
        """(category id, category version): what a cached rights map must match."""
        return (self.category_id, self.category_version)

    def actor(self) -> Actor:
        """The policy's view of this account once signed in (built once per row)."""
        known: Actor | None = self.__dict__.get("_actor")
        if known is None:
            known = self._make_actor()
            object.__setattr__(self, "_actor", known)  # a memo, not a field
        return known

    def _make_actor(self) -> Actor:
        return Actor(
            user_id=self.user_id,
            login=self.login,
            category=self.category_slug,
            documents=self.documents,
            members=self.members,
            config=self.config,
            may_delete=self.may_delete,
            degree=self.degree,
            excluded_doc_types=frozenset(self.excluded_doc_types),
        )

    def login_facts(self, now: dt.datetime) -> LoginFacts:
        """The facts of the sign-in rule at ``now`` (hours and expiry depend on it)."""
        expires = self.expires_at
        if expires is not None and expires.tzinfo is None:
            expires = expires.replace(tzinfo=dt.UTC)
        try:
            hours = _hours(self.login_hours or "")
            inside = hours.always or hours.allows(now.astimezone())  # (local time: costly)
        except ValueError:
            inside = False  # an unreadable schedule never opens the door
        return LoginFacts(
            active=bool(self.active),
            expired=expires is not None and expires <= now,
            category_login=bool(self.category_login),
            inside_hours=inside,
        )


# A schedule is parsed once, not at every request (parsing is pure; an invalid one
# raises every time, and is never cached).
_hours = lru_cache(maxsize=256)(parse_hours)

_COLUMNS = (
    User.id, User.login, User.password_hash, User.auth_version, User.degree, User.active,
    User.expires_at, User.login_hours, Category.id, Category.slug, Category.version,
    Category.login, Category.documents, Category.members, Category.config,
    Category.may_delete, Category.excluded_doc_types,
)
# Built once (statements are immutable): a request pays for executing them only,
# on a Core connection (no ORM layer).
# With the account, the tree's version (``TreeState``): what the read fast path's
# cache of readable files must match (``davdrive.readable_files``), at no extra
# statement.
_TREE_VERSION = select(TreeState.version).where(TreeState.id == 1).scalar_subquery()
_BY_ID = (
    select(*_COLUMNS, _TREE_VERSION.label("tree_version"))
    .join(Category, Category.id == User.category_id)
    .where(User.id == bindparam("user_id"))
)
_BY_LOGIN = (
    select(*_COLUMNS)
    .join(Category, Category.id == User.category_id)
    .where(User.login_key == bindparam("login_key"))
)


def _row(values: Any) -> AccountRow | None:
    if values is None:
        return None
    fields: list[Any] = [*values[:-1], tuple(values[-1] or ())]
    return AccountRow(*fields)


_BY_ID_PREPARED = Prepared(_BY_ID)  # run on every signed-in request


def by_id(conn: Connection, user_id: int) -> AccountRow | None:
    """The account with primary key ``user_id``, or None (deleted)."""
    values = _BY_ID_PREPARED.first(conn, {"user_id": user_id})
    return None if values is None else _row(values[:-1])


class KnownAccounts:
    """``by_id`` that hands out the same ``AccountRow`` (and so the same ``Actor``)
    while the database answers the same values for the account: a signed-in
    request then builds neither again. The values are still read on every call;
    only what is derived from them is reused. At most ``size`` accounts are
    remembered (all forgotten when full)."""

    def __init__(self, size: int = 1024) -> None:
        self._size = size
        self._rows: dict[int, tuple[Any, AccountRow]] = {}

    def by_id(self, conn: Connection, user_id: int) -> AccountRow | None:
        found = self.with_tree_version(conn, user_id)
        return None if found is None else found[0]

    def with_tree_version(
        self, conn: Connection, user_id: int
    ) -> tuple[AccountRow, int | None] | None:
        """``by_id``, and the tree's version read by the same statement (None in a
        database without it)."""
        values = _BY_ID_PREPARED.first(conn, {"user_id": user_id})
        if values is None:
            self._rows.pop(user_id, None)
            return None
        account, tree_version = values[:-1], values[-1]
        known = self._rows.get(user_id)
        if known is not None and known[0] == account:
            return known[1], tree_version
        row = _row(account)
        assert row is not None
        if len(self._rows) >= self._size:
            self._rows.clear()
        self._rows[user_id] = (account, row)
        return row, tree_version


def by_login(conn: Connection, login: str) -> AccountRow | None:
    """The account whose login matches ``login`` case-insensitively, or None."""
    result = conn.execute(_BY_LOGIN, {"login_key": login_key(login)})
    return _row(result.first())
