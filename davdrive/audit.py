"""Hash-chained event log.

Each event stores the hash of the previous one and its own sha256 over its
fields, so that a removed or edited row breaks the chain (``verify``).
The caller's session is used and committed by the caller. ``record`` takes
the database's write lock (``davdrive.write_lock``) before it reads the last
hash, so two events appended at once, by any thread or process, never share
a ``prev_hash``: the chain cannot fork.
"""

from __future__ import annotations

import hashlib
import json
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
    fields[0] = fields[0].replace(tzinfo=None).isoformat()
    payload = json.dumps(fields, ensure_ascii=False)
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


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


def verify(session: Session) -> int | None:
    """Id of the first event that breaks the chain, or None when intact."""
    prev = ""
    for event in session.scalars(select(AuditEvent).order_by(AuditEvent.id)):
        if event.prev_hash != prev or _digest(event) != event.hash:
            return event.id
        prev = event.hash
    return None
