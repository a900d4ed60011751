"""The event chain proves the history untouched (DESIGN 2 and 8): `davdrive audit verify`.

Rules: an intact chain verifies ("chain intact (N events)", exit 0); a row edited in
the database is named as edited (its hash no longer matches its fields); a row
deleted, or two rows whose contents were swapped, break the chain before the next
(or first swapped) row, which is named with its id, time and action; eight threads
appending at once, each in its own session on the real database (an SQLite file,
or PostgreSQL with ``--database=postgresql``), leave a chain that verifies and
holds every event.
"""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session

from davdrive import audit, cli
from davdrive.models import AuditEvent
from davdrive.passwords import Passwords
from davdrive.runtime import Runtime

EVENTS = 6
THREADS = 8
PER_THREAD = 25


def _append_events(runtime: Runtime, count: int = EVENTS) -> list[int]:
    """``count`` events in their own transactions; their ids, oldest first."""
    for i in range(count):
        with runtime.sessions() as session:
            audit.record(session, user=f"user{i}", action=f"action{i}", path=f"/p{i}")
            session.commit()
    with runtime.sessions() as session:
        return list(session.scalars(select(AuditEvent.id).order_by(AuditEvent.id)))


def _run_verify(runtime: Runtime, passwords: Passwords,
                capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = cli.main(["--data", str(runtime.settings.data_dir), "audit", "verify"],
                    passwords=passwords)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def _event(runtime: Runtime, event_id: int) -> AuditEvent:
    with runtime.sessions() as session:
        event = session.get(AuditEvent, event_id)
        assert event is not None
        return event


def test_an_intact_chain_verifies_and_counts_its_events(
    runtime: Runtime, fast_passwords: Passwords, capsys: pytest.CaptureFixture[str]
) -> None:
    _append_events(runtime)
    code, out, err = _run_verify(runtime, fast_passwords, capsys)
    assert (code, out.strip(), err) == (0, f"chain intact ({EVENTS} events)", "")


def test_an_empty_history_is_an_intact_chain(
    runtime: Runtime, fast_passwords: Passwords, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = _run_verify(runtime, fast_passwords, capsys)
    assert (code, out.strip()) == (0, "chain intact (0 events)")


def test_an_edited_field_names_that_row_as_edited(
    runtime: Runtime, fast_passwords: Passwords, capsys: pytest.CaptureFixture[str]
) -> None:
    ids = _append_events(runtime)
    target = ids[3]
    with runtime.sessions() as session:
        session.execute(update(AuditEvent).where(AuditEvent.id == target)
                        .values(path="/somewhere-else"))
        session.commit()
    with runtime.sessions() as session:
        broken = audit.check_chain(session).broken
    assert broken is not None and (broken.id, broken.action, broken.edited) == (
        target, "action3", True)
    code, out, err = _run_verify(runtime, fast_passwords, capsys)
    assert code != 0 and out == ""
    assert f"event {target} " in err and "action3" in err and "edited" in err
    moment = _event(runtime, target).time.replace(tzinfo=None).isoformat(sep=" ")
    assert moment in err, "the bad row's time is named"
    assert len(err.strip().splitlines()) == 1


def test_a_deleted_row_breaks_the_chain_before_the_next_one(
    runtime: Runtime, fast_passwords: Passwords, capsys: pytest.CaptureFixture[str]
) -> None:
    ids = _append_events(runtime)
    with runtime.sessions() as session:
        session.execute(delete(AuditEvent).where(AuditEvent.id == ids[2]))
        session.commit()
    code, _, err = _run_verify(runtime, fast_passwords, capsys)
    assert code != 0
    assert f"event {ids[3]} " in err and "action3" in err
    assert "broken before it" in err and "edited" not in err


def test_two_swapped_rows_break_the_chain_at_the_first_of_them(
    runtime: Runtime, fast_passwords: Passwords, capsys: pytest.CaptureFixture[str]
) -> None:
    ids = _append_events(runtime)
    first, second = ids[1], ids[4]
    columns = ("time", "user_login", "ip", "action", "path", "target_path", "outcome",
               "detail", "prev_hash", "hash")
    with runtime.sessions() as session:
        query = select(*(getattr(AuditEvent, c) for c in columns))
        a, b = (session.execute(query.where(AuditEvent.id == i)).one()._asdict()
                for i in (first, second))
        session.execute(update(AuditEvent).where(AuditEvent.id == first).values(b))
        session.execute(update(AuditEvent).where(AuditEvent.id == second).values(a))
        session.commit()
    with runtime.sessions() as session:
        broken = audit.check_chain(session).broken
    assert broken is not None
    assert (broken.id, broken.action, broken.edited) == (first, "action4", False), (
        "each swapped row still matches its own fields; the chain breaks before the first")
    code, _, err = _run_verify(runtime, fast_passwords, capsys)
    assert code != 0 and f"event {first} " in err and "broken before it" in err


def test_eight_threads_appending_at_once_leave_a_whole_chain(runtime: Runtime) -> None:
    barrier = threading.Barrier(THREADS)
    errors: list[BaseException] = []

    def append(worker: int) -> None:
        try:
            barrier.wait(timeout=30)
            for i in range(PER_THREAD):
                with runtime.sessions() as session:
                    audit.record(session, user=f"t{worker}", action="race", detail=str(i))
                    session.commit()
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=append, args=(w,)) for w in range(THREADS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert errors == []
    if runtime.engine.dialect.name == "sqlite":
        assert Path(runtime.settings.data_dir, "davdrive.sqlite3").is_file(), "a real file"
    with runtime.sessions() as session:
        result = audit.check_chain(session)
        per_thread = dict(session.execute(
            select(AuditEvent.user_login, func.count()).group_by(AuditEvent.user_login)).all())
        prevs = session.scalar(select(func.count(func.distinct(AuditEvent.prev_hash))))
    assert result.intact and result.events == THREADS * PER_THREAD
    assert per_thread == {f"t{w}": PER_THREAD for w in range(THREADS)}
    assert prevs == THREADS * PER_THREAD, "no two events share a prev_hash: no fork"


def test_check_reports_the_break_found_by_verify(runtime: Runtime, session: Session) -> None:
    """`davdrive check` still names the event `audit verify` names."""
    ids = _append_events(runtime)
    session.execute(update(AuditEvent).where(AuditEvent.id == ids[0]).values(ip="10.0.0.9"))
    session.commit()
    assert audit.verify(session) == ids[0]
