"""Hash-chained event log.

Each event stores the hash of the previous one and its own sha256 over its
fields, so that a removed or edited row breaks the chain (``check_chain``
names the first bad row and what is wrong with it; ``verify`` gives its id).
The caller's session is used and committed by the caller. ``record`` takes
the database's write lock (``davdrive.write_lock``) before it reads the last
hash, so two events appended at once, by any thread or process, never share
a ``prev_hash``: the chain cannot fork.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, select
from sqlalchemy.orm import Session

from davdrive.db import mark_written
from davdrive.models import AuditEvent, Base, utcnow
from davdrive.prepared import Prepared, PreparedInsert
from davdrive.write_lock import take_write_lock_on

_FIELDS = ("time", "user_login", "ip", "action", "path", "target_path", "outcome", "detail",
           "prev_hash")
# Every append runs the same two statements: compiled once per dialect.
_LAST_HASH_PREPARED = Prepared(select(AuditEvent.hash).order_by(AuditEvent.id.desc()).limit(1))
_APPEND_PREPARED = PreparedInsert(Base.metadata.tables["audit_event"])


def _digest(event: Any) -> str:
    """The event's hash over its fields (``event``: an ``AuditEvent`` or any object
    with the same attributes)."""
    return _digest_values({name: getattr(event, name) for name in _FIELDS})


def _digest_values(values: dict[str, Any]) -> str:
    fields = [values[name] for name in _FIELDS]
    fields[0] = _utc(fields[0]).isoformat()
    payload = json.dumps(fields, ensure_ascii=False)
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


def _utc(moment: dt.datetime) -> dt.datetime:
    """``moment`` as a naive UTC time (SQLite gives naive UTC times back, PostgreSQL
    aware ones in its session's zone)."""
    if moment.tzinfo is not None:
        moment = moment.astimezone(dt.UTC)
    return moment.replace(tzinfo=None)


def record(session: Session, **event: str) -> str:
    """``append`` in the session's transaction (not committed): pending changes are
    flushed first, and the session counts as having written (``db.has_written``), so
    the event is never released with a read-only commit. Returns the event's hash."""
    session.flush()
    mark_written(session)
    return append(session.connection(), **event)


def append(
    conn: Connection,
    *,
    user: str,
    action: str,
    path: str = "",
    target: str = "",
    outcome: str = "ok",
    detail: str = "",
    ip: str = "",
) -> str:
    """Append one event to the chain, in ``conn``'s transaction (not committed; it
    holds the write lock from here on): two statements. Returns the event's hash."""
    take_write_lock_on(conn, "audit")
    last = _LAST_HASH_PREPARED.first(conn, {})
    values = _event(last.hash if last else None, user, action, path, target, outcome, detail, ip)
    _APPEND_PREPARED.run(conn, values)
    return str(values["hash"])


def _event(
    prev: str | None, user: str, action: str, path: str, target: str, outcome: str,
    detail: str, ip: str,
) -> dict[str, Any]:
    """The column values of the event that follows ``prev``, its hash included."""
    values: dict[str, Any] = {
        "time": utcnow().replace(microsecond=0), "user_login": user, "ip": ip,
        "action": action, "path": path, "target_path": target, "outcome": outcome,
        "detail": detail, "prev_hash": prev or "",
    }
    values["hash"] = _digest_values(values)
    return values


@dataclass(frozen=True)
class ChainBreak:
    """The first event that breaks the chain. ``edited``: its hash does not match its
    own fields (the row was changed); otherwise its ``prev_hash`` is not the hash of
    the event before it (an event was removed before it, or rows were swapped)."""

    id: int
    time: dt.datetime
    action: str
    edited: bool

    @property
    def reason(self) -> str:
        if self.edited:
            return "edited: its hash does not match its fields"
        return ("the chain is broken before it: its prev_hash is not the previous event's "
                "hash (an event was deleted, or events were swapped)")

    def describe(self) -> str:
        """One line naming the event (id, time in UTC, action) and what is wrong."""
        moment = _utc(self.time).isoformat(sep=" ")
        return f"event {self.id} ({moment} UTC, {self.action}): {self.reason}"


@dataclass(frozen=True)
class ChainCheck:
    """``events`` read (all of them when intact), and the first break if any."""

    events: int
    broken: ChainBreak | None

    @property
    def intact(self) -> bool:
        return self.broken is None


_CHAIN_BATCH = 1000
_CHAIN_COLUMNS = (AuditEvent.id, *(getattr(AuditEvent, name) for name in _FIELDS),
                  AuditEvent.hash)


def check_chain(session: Session) -> ChainCheck:
    """Walk the chain in id order (in batches: memory stays flat) up to the first
    event whose hash does not match its fields or whose ``prev_hash`` is not the
    previous event's hash. Removing the newest events leaves a shorter chain that
    still verifies: the chain proves what it holds, not that nothing came after."""
    prev, count = "", 0
    rows = session.execute(
        select(*_CHAIN_COLUMNS).order_by(AuditEvent.id),
        execution_options={"yield_per": _CHAIN_BATCH},
    )
    try:
        for row in rows:
            count += 1
            values = row._mapping
            edited = _digest_values({name: values[name] for name in _FIELDS}) != row.hash
            if edited or row.prev_hash != prev:
                return ChainCheck(count, ChainBreak(row.id, row.time, row.action, edited))
            prev = row.hash
    finally:
        rows.close()
    return ChainCheck(count, None)


def verify(session: Session) -> int | None:
    """Id of the first event that breaks the chain, or None when intact."""
    broken = check_chain(session).broken
    return broken.id if broken is not None else None
