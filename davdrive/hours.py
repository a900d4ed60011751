"""Login hours: weekly windows in the server's local time (pure, no I/O).

A spec is a list of windows separated by ``;``. Each window names days, then
one or more time ranges::

    mon-fri 08:00-19:00
    mon,wed 09:00-12:00; sat 10:00-16:00
    mon-fri 08:00-12:00,14:00-18:00
    08:00-20:00                      (no days: every day)

Days are ``mon`` .. ``sun`` (full English names are accepted too), single or
as ranges; a range may wrap around the week (``fri-mon``). Times are
``HH:MM`` in 24-hour form; ``24:00`` may end a range. A range includes its
start and excludes its end, and must end after it starts (no overnight
ranges: write two windows instead). The empty spec means "always allowed".
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_FULL_DAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
_TIME = re.compile(r"^(\d{1,2}):(\d{2})$")
MINUTES_PER_DAY = 24 * 60


@dataclass(frozen=True)
class Window:
    """Days of the week (0 = Monday) and a [start, end) range in minutes after midnight."""

    days: frozenset[int]
    start: int
    end: int

    def allows(self, weekday: int, minute: int) -> bool:
        return weekday in self.days and self.start <= minute < self.end

    def format(self) -> str:
        return f"{format_days(self.days)} {_format_time(self.start)}-{_format_time(self.end)}"


@dataclass(frozen=True)
class LoginHours:
    """A set of weekly windows; no window at all means always allowed."""

    windows: tuple[Window, ...] = ()

    @property
    def always(self) -> bool:
        return not self.windows

    def allows(self, moment: dt.datetime) -> bool:
        """True when ``moment`` (server local time) falls inside a window."""
        if self.always:
            return True
        minute = moment.hour * 60 + moment.minute
        weekday = moment.weekday()
        return any(w.allows(weekday, minute) for w in self.windows)

    def format(self) -> str:
        """Canonical text: ``parse_hours(h.format()) == h`` for every parsed ``h``."""
        return "; ".join(w.format() for w in self.windows)

    def __str__(self) -> str:
        return self.format() or "always"


def parse_hours(spec: str) -> LoginHours:
    """Parse a login-hours spec; raise ValueError with a human message when invalid."""
    windows: list[Window] = []
    for part in spec.split(";"):
        part = part.strip()
        if part:
            windows.extend(_parse_window(part))
    unique = sorted(set(windows), key=lambda w: (min(w.days), w.start, w.end, sorted(w.days)))
    return LoginHours(tuple(unique))


def normalize_hours(spec: str) -> str:
    """The canonical form of ``spec`` (raises ValueError like ``parse_hours``)."""
    return parse_hours(spec).format()


def _parse_window(part: str) -> list[Window]:
    tokens = part.split()
    split = next((i for i, t in enumerate(tokens) if _looks_like_time(t)), len(tokens))
    day_text, time_tokens = "".join(tokens[:split]), tokens[split:]
    days = _parse_days(day_text, part) if day_text else frozenset(range(7))
    ranges = [r for token in time_tokens for r in token.split(",") if r]
    if not ranges:
        raise ValueError(f"login hours: {part!r} has no time range (e.g. 'mon-fri 08:00-19:00')")
    return [Window(days, *_parse_range(r, part)) for r in ranges]


def _looks_like_time(token: str) -> bool:
    return token[:1].isdigit()


def _day_index(name: str, part: str) -> int:
    key = name.strip().lower()
    if key in DAYS:
        return DAYS.index(key)
    if key in _FULL_DAYS:
        return _FULL_DAYS.index(key)
    raise ValueError(
        f"login hours: unknown day {name!r} in {part!r} (use {', '.join(DAYS)})"
    )


def _parse_days(text: str, part: str) -> frozenset[int]:
    days: set[int] = set()
    for item in text.split(","):
        if not item:
            raise ValueError(f"login hours: empty day in {part!r}")
        first, sep, last = item.partition("-")
        start = _day_index(first, part)
        if not sep:
            days.add(start)
            continue
        end = _day_index(last, part)
        length = (end - start) % 7 + 1
        days.update((start + i) % 7 for i in range(length))
    return frozenset(days)


def _parse_time(text: str, part: str) -> int:
    match = _TIME.match(text.strip())
    if not match:
        raise ValueError(f"login hours: {text!r} in {part!r} is not a time (use HH:MM)")
    hour, minute = int(match.group(1)), int(match.group(2))
    if minute > 59 or hour > 24 or (hour == 24 and minute != 0):
        raise ValueError(f"login hours: {text!r} in {part!r} is not a valid time")
    return hour * 60 + minute


def _parse_range(text: str, part: str) -> tuple[int, int]:
    first, sep, last = text.partition("-")
    if not sep:
        raise ValueError(
            f"login hours: {text!r} in {part!r} is not a time range (use HH:MM-HH:MM)"
        )
    start, end = _parse_time(first, part), _parse_time(last, part)
    if start >= MINUTES_PER_DAY:
        raise ValueError(f"login hours: a range cannot start at 24:00 in {part!r}")
    if end <= start:
        raise ValueError(
            f"login hours: the range {text!r} in {part!r} must end after it starts "
            "(split overnight hours into two windows)"
        )
    return start, end


def _format_time(minutes: int) -> str:
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


def format_days(days: frozenset[int]) -> str:
    """Compact day list: runs of three or more consecutive days become ranges."""
    ordered = sorted(days)
    runs: list[list[int]] = []
    for day in ordered:
        if runs and day == runs[-1][-1] + 1:
            runs[-1].append(day)
        else:
            runs.append([day])
    parts = []
    for run in runs:
        if len(run) >= 3:
            parts.append(f"{DAYS[run[0]]}-{DAYS[run[-1]]}")
        else:
            parts.extend(DAYS[d] for d in run)
    return ",".join(parts)
