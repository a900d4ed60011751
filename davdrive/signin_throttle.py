"""Throttling of failed sign-ins (DESIGN 5), shared by WebDAV and the admin view.

After ``per_login`` failures for one login from one source address, or
``per_address`` failures from one source address (any logins), within
``window``, further attempts from there are refused until that window ends,
without any password check. Another address is not affected, so the owner
signing in from elsewhere still gets in. An IPv6 address counts as its /64
(``counted_source``); logins count case-insensitively.

The counters are rows of ``signin_failures`` (one per address and login, one
per address for every login), so every server process agrees. A window
starts at its first failure and lasts ``window``; a failure after it starts a
new one. Costs: a failure is one statement (an upsert of both counters, and
at most once a minute per process a sweep of expired rows); a check is one
SELECT by primary key; a refusal this process has seen is remembered until
its window ends and costs no SQL at all (``remembered``). The first refused
attempt of a window is audited (``refuse``: action "login", outcome
"throttled"), the later ones are not: a flood writes nothing.

Callers pass their session or connection and commit; what the throttle keeps
in memory is never more than the database says (a window ends at the same
time in both).
"""

from __future__ import annotations

import datetime as dt
import functools
import ipaddress
import math
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from typing import Any, cast

from sqlalchemy import Connection, bindparam, case, delete, false, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import CursorResult
from sqlalchemy.orm import Session

from davdrive import audit
from davdrive.account_checks import as_utc, login_key
from davdrive.errors import Throttled
from davdrive.models import Base, utcnow

ANY_LOGIN = ""  # the login of an address's counter (no counted login is empty)
SWEEP_EVERY = dt.timedelta(minutes=1)
_T = Base.metadata.tables["signin_failures"]
_CHECK = select(_T.c.login, _T.c.window_start, _T.c.failures, _T.c.noted).where(
    _T.c.source == bindparam("source"),
    or_(_T.c.login == ANY_LOGIN, _T.c.login == bindparam("login")),
)


@dataclass(frozen=True)
class ThrottleLimits:
    per_login: int = 10
    per_address: int = 30
    window: dt.timedelta = dt.timedelta(minutes=15)

    def limit(self, counted_login: str) -> int:
        return self.per_address if counted_login == ANY_LOGIN else self.per_login


@dataclass(frozen=True)
class Blocked:
    """Attempts for ``login`` (``ANY_LOGIN``: every login) from ``source`` (as
    counted) are refused until ``until``, after ``failures`` in the window."""

    source: str
    login: str
    window_start: dt.datetime
    until: dt.datetime
    failures: int
    noted: bool  # the window's first refusal is audited

    def retry_after(self, now: dt.datetime) -> int:
        """Whole seconds until the window ends (at least 1)."""
        return max(1, math.ceil((self.until - now).total_seconds()))


def too_many(retry_after: int) -> str:
    """The sentence a refused client reads (it names no account)."""
    minutes = max(1, math.ceil(retry_after / 60))
    return (f"Too many failed sign-ins from here; try again in {minutes} "
            f"{'minute' if minutes == 1 else 'minutes'}.")


@functools.lru_cache(maxsize=4096)
def counted_source(address: str) -> str:
    """What an address is counted as: an IPv4 address as it is, an IPv6 address as
    its /64 (what one host usually holds), anything else cut to 64 characters."""
    try:
        parsed = ipaddress.ip_address(address)
    except ValueError:
        return address[:64]
    if isinstance(parsed, ipaddress.IPv6Address):
        if parsed.ipv4_mapped is not None:
            return str(parsed.ipv4_mapped)
        return str(ipaddress.IPv6Network((int(parsed) >> 64 << 64, 64)))
    return str(parsed)


def counted_login(login: str) -> str:
    return login_key(login)[:150]


class SigninThrottle:
    """The throttle of one process (see the module); ``clock`` gives the time (UTC)."""

    def __init__(
        self, limits: ThrottleLimits | None = None,
        clock: Callable[[], dt.datetime] = utcnow, remember: int = 10_000,
    ) -> None:
        self.limits = limits or ThrottleLimits()
        self.clock = clock
        self._remember_most = remember
        self._blocked: dict[tuple[str, str], Blocked] = {}
        self._lock = threading.Lock()
        self._next_sweep: dt.datetime | None = None

    def remembered(self, source: str, login: str) -> Blocked | None:
        """A refusal of ``login`` from ``source`` this process has seen and whose
        window has not ended; no SQL (nothing to look at when none is known)."""
        if not self._blocked:
            return None
        return self._recall(source, login, self.clock())

    def check(self, db: Session | Connection, source: str, login: str) -> Blocked | None:
        """Whether ``login`` from ``source`` is refused now: ``remembered``, else one SELECT."""
        now = self.clock()
        known = self._recall(source, login, now) if self._blocked else None
        if known is not None:
            return known
        src = counted_source(source)
        rows = db.execute(_CHECK, {"source": src, "login": counted_login(login)})
        return self._refusal(src, rows, now)

    def failed(self, db: Session | Connection, source: str, login: str) -> None:
        """Count one failure of ``login`` from ``source`` (one statement; see the module).
        The counters come back with it: one that reaches its limit is remembered, so
        the next attempt from there is refused without SQL and skips the cache."""
        now = self.clock()
        cutoff = now - self.limits.window
        if self._next_sweep is None or now >= self._next_sweep:
            self._next_sweep = now + SWEEP_EVERY
            db.execute(delete(_T).where(_T.c.window_start <= cutoff))
        src, who = counted_source(source), counted_login(login)
        rows = [{"source": src, "login": name, "window_start": now, "failures": 1,
                 "noted": False} for name in ((ANY_LOGIN, who) if who else (ANY_LOGIN,))]
        bind = db.get_bind() if isinstance(db, Session) else db
        if bind.dialect.insert_returning:
            self._refusal(src, db.execute(_count(bind.dialect.name, rows, cutoff, True)), now)
        else:  # (SQLite before 3.35: no RETURNING) read them back
            db.execute(_count(bind.dialect.name, rows, cutoff, False))
            self.check(db, source, login)

    def _refusal(self, src: str, rows: Iterable[Any], now: dt.datetime) -> Blocked | None:
        """The longest refusal the counter ``rows`` of ``src`` make at ``now``, remembered."""
        found: Blocked | None = None
        for row in rows:
            start = as_utc(row.window_start)
            assert start is not None
            until = start + self.limits.window
            if until > now and row.failures >= self.limits.limit(row.login):
                candidate = Blocked(src, row.login, start, until, row.failures, bool(row.noted))
                if found is None or candidate.until > found.until:
                    found = candidate
        if found is not None:
            self._remember(found)
        return found

    def refuse(
        self, session: Session, blocked: Blocked, login: str, ip: str, where: str
    ) -> Throttled:
        """The error answering a refused attempt; the window's first one is audited
        (``where``: "webdav" or "admin view"), whichever process sees it."""
        now = self.clock()
        if not blocked.noted:
            result = session.execute(
                update(_T).where(
                    _T.c.source == blocked.source, _T.c.login == blocked.login,
                    _T.c.window_start == blocked.window_start, _T.c.noted == false(),
                ).values(noted=True)
            )
            if cast(CursorResult[Any], result).rowcount:
                audit.record(session, user=login[:150], ip=ip, action="login",
                             outcome="throttled", detail=self._detail(blocked, where))
            self._remember(replace(blocked, noted=True))
        seconds = blocked.retry_after(now)
        return Throttled(too_many(seconds), retry_after=seconds)

    def _detail(self, blocked: Blocked, where: str) -> str:
        scope = " for this login" if blocked.login != ANY_LOGIN else ""
        minutes = int(self.limits.window.total_seconds() // 60)
        return (f"{where}: {blocked.failures} failed sign-ins{scope} from this address "
                f"within {minutes} minutes; attempts refused unchecked until "
                f"{blocked.until:%Y-%m-%d %H:%M:%S} UTC (only this first one is logged)")

    def _recall(self, source: str, login: str, now: dt.datetime) -> Blocked | None:
        src = counted_source(source)
        best: Blocked | None = None
        with self._lock:
            for key in ((src, ANY_LOGIN), (src, counted_login(login))):
                known = self._blocked.get(key)
                if known is None:
                    continue
                if known.until <= now:
                    del self._blocked[key]
                elif best is None or known.until > best.until:
                    best = known
        return best

    def _remember(self, blocked: Blocked) -> None:
        with self._lock:
            if len(self._blocked) >= self._remember_most:
                self._blocked.clear()  # the database still knows; this only saves SQL
            self._blocked[(blocked.source, blocked.login)] = blocked


def _count(dialect: str, rows: list[dict[str, Any]], cutoff: dt.datetime, returning: bool
           ) -> Any:
    """INSERT the counters, or add one to those whose window holds and start a new
    window in the others (one statement on SQLite and PostgreSQL), ``returning`` them."""
    insert = (postgresql.insert if dialect == "postgresql" else sqlite.insert)(_T).values(rows)
    expired = _T.c.window_start <= cutoff
    upsert = insert.on_conflict_do_update(
        index_elements=[_T.c.source, _T.c.login],
        set_={
            "failures": case((expired, 1), else_=_T.c.failures + 1),
            "window_start": case((expired, insert.excluded.window_start),
                                 else_=_T.c.window_start),
            "noted": case((expired, false()), else_=_T.c.noted),
        },
    )
    return upsert.returning(*_CHECK.selected_columns) if returning else upsert
