"""Which snapshots a rotation keeps (DESIGN 4: 8 daily, 5 weekly, 12 monthly).

``keep`` is pure: given the snapshots' times, it returns those kept, the newest
of each of the last ``daily`` days that have one, of each of the last ``weekly``
ISO weeks that have one and of each of the last ``monthly`` months that have
one. Periods are counted in UTC from the newest snapshot, not from the clock:
backups that stopped for a while never lose their last snapshots to time alone.
A snapshot kept for several reasons is kept once.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Hashable, Iterable

DAILY, WEEKLY, MONTHLY = 8, 5, 12

Period = Callable[[dt.datetime], Hashable]


def _day(t: dt.datetime) -> Hashable:
    return t.date()


def _iso_week(t: dt.datetime) -> Hashable:
    year, week, _ = t.isocalendar()
    return year, week


def _month(t: dt.datetime) -> Hashable:
    return t.year, t.month


def keep(
    times: Iterable[dt.datetime], *, daily: int = DAILY, weekly: int = WEEKLY,
    monthly: int = MONTHLY,
) -> set[dt.datetime]:
    """The snapshots (timezone-aware times) that stay; see the module docstring."""
    newest_first = sorted(set(times), key=lambda t: t.astimezone(dt.UTC), reverse=True)
    kept: set[dt.datetime] = set()
    for period, count in ((_day, daily), (_iso_week, weekly), (_month, monthly)):
        kept.update(_newest_per_period(newest_first, period, count))
    return kept


def _newest_per_period(
    newest_first: list[dt.datetime], period: Period, count: int
) -> list[dt.datetime]:
    """The newest time of each of the ``count`` latest periods that hold one."""
    chosen: list[dt.datetime] = []
    seen: set[Hashable] = set()
    for t in newest_first:
        key = period(t.astimezone(dt.UTC))
        if key in seen:
            continue
        if len(seen) == count:
            break
        seen.add(key)
        chosen.append(t)
    return chosen
