"""Every change is in the history, saying what changed (issue: audit every action).

Rules: a user change records which fields changed and their new values, a
password by name only (never its value); provisioning records the classification
and protection it gives an item, as the system; a second run with nothing to
change records nothing more.
"""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from davdrive import accounts
from davdrive.models import AuditEvent
from davdrive.runtime import Runtime
from tests.unit.test_provisioning import run, write_spec


def _last(session: Session, action: str) -> AuditEvent:
    event = session.scalars(select(AuditEvent).where(AuditEvent.action == action)
                            .order_by(AuditEvent.id.desc())).first()
    assert event is not None, f"no {action} event"
    return event


def test_a_user_change_names_its_fields_and_never_shows_a_password(
    session: Session, runtime: Runtime
) -> None:
    accounts.add_user(session, runtime.passwords, "zoe", "member", password="first-secret")
    accounts.set_user(session, runtime.passwords, "zoe", degree=3, category="office",
                      password="second-secret", active=False)
    event = _last(session, "user.set")
    assert event.detail.startswith("zoe: ")
    for part in ("degree=3", "category=office", "password", "active=False"):
        assert part in event.detail, event.detail
    assert "second-secret" not in event.detail and "first-secret" not in event.detail


def test_provisioning_records_what_it_gives_each_item(
    session: Session, runtime: Runtime, tmp_path: Path
) -> None:
    spec = write_spec(tmp_path)
    run(session, runtime, spec)
    events = {e.path: e for e in session.scalars(
        select(AuditEvent).where(AuditEvent.action == "provision"))}
    archive = events["/Association/Archive"]
    assert archive.user_login == "system"
    assert "min_degree=2" in archive.detail and "doc_type=treasury" in archive.detail
    assert "protected=True" in archive.detail
    assert "doc_type=minutes" in events["/Association/Statutes.txt"].detail
    count = session.scalar(select(func.count()).select_from(AuditEvent))
    run(session, runtime, spec)
    assert session.scalar(select(func.count()).select_from(AuditEvent)) == count
