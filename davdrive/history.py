"""Reading the event history (DESIGN 7 and 8, seed 002): search, one page at a time, and CSV.

The events are written by ``davdrive.audit``; this module only reads them.
Reading is a right (``policy.may_read_history``): the functions raise
``Forbidden`` for anyone else before reading anything.

Filters, all optional and combined: ``user`` (the login as recorded, exact),
``action`` (exact, e.g. ``delete`` or ``user.set``), ``path_prefix`` (events
whose path or target path is that path or lies under it, names compared
exactly), ``since`` (included) and ``until`` (excluded) as aware datetimes
(``parse_moment``, from ``account_checks``, reads them from ISO text).
Newest first (by time, then by the order of the chain). Every filter is
answered by an index (user, action, time, path, target path).
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, func, or_, select
from sqlalchemy.orm import Session

from davdrive.account_checks import parse_moment
from davdrive.errors import BadRequest, Forbidden
from davdrive.models import AuditEvent
from davdrive.paging import check_per_page, clamp_page, page_count
from davdrive.policy import Actor, may_read_history

__all__ = ["CSV_COLUMNS", "EventFilter", "EventPage", "event_summary", "events_csv",
           "parse_moment", "search_events"]

CSV_COLUMNS = ("id", "time", "user", "ip", "action", "path", "target", "outcome", "detail")
_CSV_BATCH = 500
# A spreadsheet runs a cell that starts with one of these as a formula.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


@dataclass(frozen=True)
class EventFilter:
    """What to look for; None (or "") means any."""

    user: str | None = None
    action: str | None = None
    path_prefix: str | None = None
    since: dt.datetime | None = None
    until: dt.datetime | None = None


@dataclass(frozen=True)
class EventPage:
    """One page of the history: ``total`` matching events in all, this being ``page``
    of ``pages`` with at most ``per_page`` events, newest first."""

    events: list[AuditEvent]
    total: int
    page: int
    per_page: int

    @property
    def pages(self) -> int:
        return page_count(self.total, self.per_page)


def _require(actor: Actor) -> None:
    decision = may_read_history(actor)
    if not decision:
        raise Forbidden(f"Not allowed to read the event history: {decision.reason}.")


def _conditions(found: EventFilter, dialect: str) -> list[ColumnElement[bool]]:
    """The WHERE conditions of ``found`` (BadRequest for an impossible range)."""
    if found.since is not None and found.until is not None and found.since >= found.until:
        raise BadRequest("The start of the period must come before its end.")
    where: list[ColumnElement[bool]] = []
    if found.user:
        where.append(AuditEvent.user_login == found.user)
    if found.action:
        where.append(AuditEvent.action == found.action)
    if found.since is not None:
        where.append(AuditEvent.time >= _stored(found.since))
    if found.until is not None:
        where.append(AuditEvent.time < _stored(found.until))
    if found.path_prefix:
        prefix = _check_prefix(found.path_prefix)
        binary = dialect == "postgresql"
        where.append(or_(_under(AuditEvent.path, prefix, binary),
                         _under(AuditEvent.target_path, prefix, binary)))
    return where


def _dialect(session: Session) -> str:
    return session.get_bind().dialect.name


def _stored(moment: dt.datetime) -> dt.datetime:
    """``moment`` as the event times are stored: UTC, to the second."""
    return moment.astimezone(dt.UTC)


def _check_prefix(prefix: str) -> str:
    """A drive path: "/" and a name or more, without a trailing "/" ("/" alone: all)."""
    value = prefix.strip()
    if not value.startswith("/"):
        raise BadRequest(f"The path {prefix!r} must start with '/' (e.g. /Finance).")
    return value.rstrip("/")


def _under(column: Any, prefix: str, binary: bool) -> ColumnElement[bool]:
    """``column`` is ``prefix`` or a path below it, as a range on the column's partial
    index (of the non-empty values): "/" sorts just before "0" in a binary collation
    (SQLite's; with ``binary`` the comparison asks PostgreSQL for its "C" collation,
    whatever the database's)."""
    present = column != ""  # the partial index's own condition: the index is used
    if binary:
        column = column.collate("C")
    if not prefix:
        return present  # type: ignore[no-any-return]
    return or_(and_(present, column == prefix),
               and_(present, column >= prefix + "/", column < prefix + "0"))


def search_events(
    session: Session,
    actor: Actor,
    *,
    user: str | None = None,
    action: str | None = None,
    path_prefix: str | None = None,
    since: dt.datetime | None = None,
    until: dt.datetime | None = None,
    page: int = 1,
    per_page: int = 50,
) -> EventPage:
    """One page of matching events, newest first; for those ``may_read_history`` allows.

    Two statements: the count, then the page. ``page`` is clamped to
    [1, pages]; ``per_page`` is 1 to 200 (else BadRequest).
    """
    _require(actor)
    check_per_page(per_page)
    where = _conditions(EventFilter(user, action, path_prefix, since, until), _dialect(session))
    total = session.scalar(select(func.count()).select_from(AuditEvent).where(*where)) or 0
    page = clamp_page(page, total, per_page)
    events = list(session.scalars(
        _newest_first(where).limit(per_page).offset((page - 1) * per_page)
    ))
    return EventPage(events, total, page, per_page)


def _newest_first(where: list[ColumnElement[bool]]) -> Select[AuditEvent]:
    return select(AuditEvent).where(*where).order_by(AuditEvent.time.desc(),
                                                     AuditEvent.id.desc())


def event_summary(event: AuditEvent) -> dict[str, Any]:
    """A JSON-ready description of an event with stable keys (time in ISO, UTC)."""
    return {
        "id": event.id, "time": _iso(event.time), "user": event.user_login, "ip": event.ip,
        "action": event.action, "path": event.path, "target": event.target_path,
        "outcome": event.outcome, "detail": event.detail,
    }


def _iso(moment: dt.datetime) -> str:
    aware = moment if moment.tzinfo is not None else moment.replace(tzinfo=dt.UTC)
    return aware.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")


def events_csv(
    session: Session,
    actor: Actor,
    *,
    user: str | None = None,
    action: str | None = None,
    path_prefix: str | None = None,
    since: dt.datetime | None = None,
    until: dt.datetime | None = None,
) -> Iterator[str]:
    """Every matching event as CSV text, newest first: the header line, then one line
    per event, produced while the events are read in batches (memory stays flat
    whatever the history's size). The rights and the filters are checked before
    the first line. A cell that a spreadsheet would run as a formula (starting
    with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return) is prefixed with ``'``.
    """
    _require(actor)
    where = _conditions(EventFilter(user, action, path_prefix, since, until), _dialect(session))
    return _csv_lines(session, where)


def _csv_lines(session: Session, where: list[ColumnElement[bool]]) -> Iterator[str]:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")

    def line(cells: list[Any]) -> str:
        buffer.seek(0)
        buffer.truncate()
        writer.writerow([_cell(c) for c in cells])
        return buffer.getvalue()

    yield line(list(CSV_COLUMNS))
    rows = session.scalars(_newest_first(where), execution_options={"yield_per": _CSV_BATCH})
    try:
        for event in rows:
            yield line(list(event_summary(event).values()))
    finally:
        rows.close()


def _cell(value: Any) -> str:
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(_FORMULA_START) else text
