"""Connection statistics as read back: totals over the last days, and requests per day.

Both read the daily rows of ``login_stat`` (``davdrive.connection_stats``
writes them) for the ``days`` days ending ``today`` (the server's local
day, included), in one statement each, by the ``day`` index. Reading them is
the history's right (``policy.may_read_history``); what a running server
counted in the last ``stats.flush_seconds`` is not in the rows yet.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from davdrive.connection_stats import FIELDS
from davdrive.errors import BadRequest, Forbidden
from davdrive.models import LoginStat
from davdrive.policy import Actor, may_read_history

MAX_DAYS = 3660
# Names in ``as_dict`` (JSON): the counters as the statistics call them.
JSON_NAMES = {"successes": "sign_ins", "failures": "failures", "requests": "requests",
              "bytes_in": "bytes_in", "bytes_out": "bytes_out"}


@dataclass(frozen=True)
class Totals:
    """Sums of the counters of one login on one interface (or of everyone)."""

    login: str
    interface: str
    successes: int = 0
    failures: int = 0
    requests: int = 0
    bytes_in: int = 0
    bytes_out: int = 0

    def counters(self) -> dict[str, int]:
        """The five counters under their JSON names (sign_ins, failures, requests,
        bytes_in, bytes_out)."""
        return {JSON_NAMES[name]: getattr(self, name) for name in FIELDS}

    def as_dict(self) -> dict[str, Any]:
        return {"login": self.login, "interface": self.interface, **self.counters()}


@dataclass(frozen=True)
class StatsReport:
    """Totals per (login, interface), by login then interface, and ``overall``;
    for the days ``first`` to ``last`` included."""

    first: dt.date
    last: dt.date
    rows: list[Totals] = field(default_factory=list)

    @property
    def overall(self) -> Totals:
        sums = {name: sum(getattr(r, name) for r in self.rows) for name in FIELDS}
        return Totals("", "all", **sums)

    def as_dict(self) -> dict[str, Any]:
        return {
            "first_day": self.first.isoformat(), "last_day": self.last.isoformat(),
            "days": (self.last - self.first).days + 1,
            "rows": [r.as_dict() for r in self.rows],
            "overall": self.overall.counters(),
        }


def _require(actor: Actor) -> None:
    decision = may_read_history(actor)
    if not decision:
        raise Forbidden(f"Not allowed to read the connection statistics: {decision.reason}.")


def period(days: int, today: dt.date | None = None) -> tuple[dt.date, dt.date]:
    """(first, last) day of the ``days`` days ending ``today`` (1 to 3660, else BadRequest)."""
    if not 1 <= days <= MAX_DAYS:
        raise BadRequest(f"The period is 1 to {MAX_DAYS} days, not {days}.")
    last = today or dt.date.today()
    return last - dt.timedelta(days=days - 1), last


def connection_totals(
    session: Session, actor: Actor, days: int = 30, today: dt.date | None = None
) -> StatsReport:
    """Totals per login and interface over the last ``days`` days; one statement."""
    _require(actor)
    first, last = period(days, today)
    sums = [func.coalesce(func.sum(getattr(LoginStat, name)), 0) for name in FIELDS]
    rows = session.execute(
        select(LoginStat.login, LoginStat.interface, *sums)
        .where(LoginStat.day >= first, LoginStat.day <= last)
        .group_by(LoginStat.login, LoginStat.interface)
        .order_by(LoginStat.login, LoginStat.interface)
    ).all()
    return StatsReport(first, last, [
        Totals(login, interface, *(int(v) for v in values)) for login, interface, *values in rows
    ])


def requests_per_day(
    session: Session, actor: Actor, login: str | None = None, days: int = 30,
    today: dt.date | None = None,
) -> tuple[list[dt.date], list[int]]:
    """(every day of the period, oldest first; requests on each, 0 for a day without
    any), of ``login`` or of everyone (None), both interfaces together; one statement."""
    _require(actor)
    first, last = period(days, today)
    query = (select(LoginStat.day, func.sum(LoginStat.requests))
             .where(LoginStat.day >= first, LoginStat.day <= last)
             .group_by(LoginStat.day))
    if login is not None:
        query = query.where(LoginStat.login == login)
    counted = {day: int(n or 0) for day, n in session.execute(query)}
    every = _every_day(first, last)
    return every, [counted.get(day, 0) for day in every]


def requests_per_day_by_login(
    session: Session, actor: Actor, days: int = 30, today: dt.date | None = None,
) -> tuple[list[dt.date], dict[str, list[int]]]:
    """(every day of the period, oldest first; {login: requests on each day}) for
    every login counted in the period, both interfaces together; one statement."""
    _require(actor)
    first, last = period(days, today)
    every = _every_day(first, last)
    index = {day: i for i, day in enumerate(every)}
    series: dict[str, list[int]] = {}
    for login, day, n in session.execute(
        select(LoginStat.login, LoginStat.day, func.sum(LoginStat.requests))
        .where(LoginStat.day >= first, LoginStat.day <= last)
        .group_by(LoginStat.login, LoginStat.day)
    ):
        series.setdefault(login, [0] * len(every))[index[day]] = int(n or 0)
    return every, series


def _every_day(first: dt.date, last: dt.date) -> list[dt.date]:
    return [first + dt.timedelta(days=i) for i in range((last - first).days + 1)]
