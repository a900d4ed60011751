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

from sqlalchemy import select
from sqlalchemy.orm import Session

from davdrive.models import AuditEvent, utcnow
from davdrive.write_lock import take_write_lock


def _digest(event: AuditEvent) -> str:
    payload = json.dumps(
        [
            event.time.replace(tzinfo=None).isoformat(),
            event.user_login,
            event.ip,
            event.action,
            event.path,
            event.target_path,
            event.outcome,
            event.detail,
            event.prev_hash,
        ],
        ensure_ascii=False,
    )
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


def record(
    session: Session,
    *,
    user: str,
    action: str,
    path: str = "",
    target: str = "",
    outcome: str = "ok",
    detail: str = "",
    ip: str = "",
) -> AuditEvent:
    """Append one event to the chain (flushed, not committed; the transaction holds
    the write lock from here on)."""
    take_write_lock(session, "audit")
    prev = session.scalars(select(AuditEvent.hash).order_by(AuditEvent.id.desc()).limit(1)).first()
    event = AuditEvent(
        time=utcnow().replace(microsecond=0),
        user_login=user,
        ip=ip,
        action=action,
        path=path,
        target_path=target,
        outcome=outcome,
        detail=detail,
        prev_hash=prev or "",
    )
    event.hash = _digest(event)
    session.add(event)
    session.flush()
    return event


def verify(session: Session) -> int | None:
    """Id of the first event that breaks the chain, or None when intact."""
    prev = ""
    for event in session.scalars(select(AuditEvent).order_by(AuditEvent.id)):
        if event.prev_hash != prev or _digest(event) != event.hash:
            return event.id
        prev = event.hash
    return None
