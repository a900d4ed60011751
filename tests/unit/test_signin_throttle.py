"""Throttling of failed sign-ins, the core (issue 14; DESIGN 5).

Rules (docs/security.md, "Throttling of failed sign-ins"):
- after 10 failures for one login from one source address within 15 minutes,
  or 30 failures from one source address (any logins), further attempts from
  there are refused until the window ends (Retry-After: the seconds left);
- another address is not affected; an IPv6 /64 counts as one address;
- the counters live in the database: every process agrees; a failure costs one
  statement, a check one SELECT, a remembered refusal none; expired rows are swept;
- the first refused attempt of a window is audited (action "login", outcome
  "throttled"), later ones are not, whichever process refuses them.

Time is a clock given to the throttle (``clock``), never slept.
"""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import func, select, update

from davdrive.errors import Throttled
from davdrive.models import AuditEvent, SigninFailures
from davdrive.runtime import Runtime
from davdrive.signin_throttle import SigninThrottle, ThrottleLimits, too_many
from tests.conftest import recorded_statements, without_write_lock

T0 = dt.datetime(2026, 12, 1, 9, 0, tzinfo=dt.UTC)


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> dt.datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += dt.timedelta(**delta)


@pytest.fixture
def clock() -> Clock:
    return Clock()


def throttle_of(clock: Clock) -> SigninThrottle:
    return SigninThrottle(ThrottleLimits(), clock=clock)


def fail(runtime: Runtime, throttle: SigninThrottle, source: str, login: str, times: int = 1
         ) -> None:
    for _ in range(times):
        with runtime.sessions() as session:
            throttle.failed(session, source, login)
            session.commit()


def blocked(runtime: Runtime, throttle: SigninThrottle, source: str, login: str) -> int | None:
    """Seconds until ``login`` may be tried again from ``source``, or None (not refused)."""
    with runtime.sessions() as session:
        found = throttle.check(session, source, login)
    return None if found is None else found.retry_after(throttle.clock())


def test_the_defaults_are_the_designs() -> None:
    limits = ThrottleLimits()
    assert (limits.per_login, limits.per_address) == (10, 30)
    assert limits.window == dt.timedelta(minutes=15)


def test_ten_failures_for_one_login_refuse_it_from_that_address(
    runtime: Runtime, clock: Clock
) -> None:
    throttle = throttle_of(clock)
    fail(runtime, throttle, "198.51.100.1", "ann", 9)
    assert blocked(runtime, throttle, "198.51.100.1", "ann") is None
    fail(runtime, throttle, "198.51.100.1", "ann")
    clock.advance(minutes=5)
    assert blocked(runtime, throttle, "198.51.100.1", "ann") == 10 * 60
    assert blocked(runtime, throttle, "198.51.100.1", "ANN") == 10 * 60  # any case
    assert blocked(runtime, throttle, "198.51.100.2", "ann") is None  # another address
    assert blocked(runtime, throttle, "198.51.100.1", "bob") is None  # another login


def test_thirty_failures_from_one_address_refuse_every_login_from_there(
    runtime: Runtime, clock: Clock
) -> None:
    throttle = throttle_of(clock)
    for n in range(29):
        fail(runtime, throttle, "198.51.100.1", f"user{n}")
    assert blocked(runtime, throttle, "198.51.100.1", "someone") is None
    fail(runtime, throttle, "198.51.100.1", "user29")
    assert blocked(runtime, throttle, "198.51.100.1", "someone") == 15 * 60
    assert blocked(runtime, throttle, "198.51.100.2", "someone") is None


def test_an_ipv6_64_counts_as_one_address(runtime: Runtime, clock: Clock) -> None:
    throttle = throttle_of(clock)
    for n in range(30):
        fail(runtime, throttle, f"2001:db8:1:2::{n + 1:x}", f"user{n}")
    assert blocked(runtime, throttle, "2001:db8:1:2:ffff::9", "someone") is not None
    assert blocked(runtime, throttle, "2001:db8:1:3::1", "someone") is None


def test_after_the_window_attempts_are_checked_again_and_counted_anew(
    runtime: Runtime, clock: Clock
) -> None:
    throttle = throttle_of(clock)
    fail(runtime, throttle, "198.51.100.1", "ann", 10)
    assert blocked(runtime, throttle, "198.51.100.1", "ann") is not None
    clock.advance(minutes=15)
    assert blocked(runtime, throttle, "198.51.100.1", "ann") is None
    fail(runtime, throttle, "198.51.100.1", "ann", 9)  # a new window: 9 of 10
    assert blocked(runtime, throttle, "198.51.100.1", "ann") is None


def test_the_window_runs_from_its_first_failure(runtime: Runtime, clock: Clock) -> None:
    throttle = throttle_of(clock)
    fail(runtime, throttle, "198.51.100.1", "ann")
    clock.advance(minutes=14)
    fail(runtime, throttle, "198.51.100.1", "ann", 9)
    assert blocked(runtime, throttle, "198.51.100.1", "ann") == 60


def test_two_processes_agree_on_the_counters(runtime: Runtime, clock: Clock) -> None:
    first, second = throttle_of(clock), throttle_of(clock)
    fail(runtime, first, "198.51.100.1", "ann", 5)
    fail(runtime, second, "198.51.100.1", "ann", 5)
    assert blocked(runtime, first, "198.51.100.1", "ann") is not None
    assert blocked(runtime, second, "198.51.100.1", "ann") is not None


def test_a_failure_costs_one_statement_and_a_check_one_select(
    runtime: Runtime, clock: Clock
) -> None:
    throttle = throttle_of(clock)
    fail(runtime, throttle, "198.51.100.9", "warm-up")  # the first failure also sweeps
    with runtime.sessions() as session, recorded_statements(runtime.engine) as seen:
        throttle.failed(session, "198.51.100.1", "ann")
    writes = without_write_lock(seen)
    assert len(writes) == 1 and writes[0].startswith("INSERT INTO signin_failures")
    with runtime.sessions() as session, recorded_statements(runtime.engine) as seen:
        assert throttle.check(session, "198.51.100.1", "ann") is None
    assert len(seen) == 1 and seen[0].startswith("SELECT")


def test_a_refusal_once_seen_is_remembered_without_sql(runtime: Runtime, clock: Clock) -> None:
    """The failure that reaches the limit tells its process (the counters come back
    with the upsert); another process learns it from its first check."""
    counting, other = throttle_of(clock), throttle_of(clock)
    fail(runtime, counting, "198.51.100.1", "ann", 9)
    assert counting.remembered("198.51.100.1", "ann") is None
    fail(runtime, counting, "198.51.100.1", "ann")
    with recorded_statements(runtime.engine) as seen:
        assert counting.remembered("198.51.100.1", "ann") is not None
        assert blocked(runtime, counting, "198.51.100.1", "ann") is not None
    assert seen == []
    assert other.remembered("198.51.100.1", "ann") is None
    assert blocked(runtime, other, "198.51.100.1", "ann") is not None
    assert other.remembered("198.51.100.1", "ann") is not None
    clock.advance(minutes=15)
    assert counting.remembered("198.51.100.1", "ann") is None
    assert other.remembered("198.51.100.1", "ann") is None


def test_expired_rows_are_swept(runtime: Runtime, clock: Clock) -> None:
    throttle = throttle_of(clock)
    fail(runtime, throttle, "198.51.100.1", "ann")
    fail(runtime, throttle, "198.51.100.2", "bob")
    clock.advance(minutes=16)
    fail(runtime, throttle, "198.51.100.3", "cid")
    with runtime.sessions() as session:
        left = session.execute(select(SigninFailures.source, SigninFailures.login)).all()
    assert sorted(left) == [("198.51.100.3", ""), ("198.51.100.3", "cid")]


def test_only_the_first_refusal_of_a_window_is_audited(runtime: Runtime, clock: Clock) -> None:
    """Two processes refuse four attempts: one audit event, naming the login and address."""
    first, second = throttle_of(clock), throttle_of(clock)
    fail(runtime, first, "198.51.100.1", "ann", 10)
    for throttle in (first, second, first, second):
        with runtime.sessions() as session:
            found = throttle.check(session, "198.51.100.1", "ann")
            assert found is not None
            error = throttle.refuse(session, found, "ann", "198.51.100.1", "webdav")
            session.commit()
        assert isinstance(error, Throttled) and error.retry_after == 15 * 60
    events = audit_events(runtime)
    assert len(events) == 1
    assert events[0][:3] == ("ann", "198.51.100.1", "throttled")
    assert events[0][3].startswith("webdav: 10 failed sign-ins")
    # A new window is audited again.
    clock.advance(minutes=15)
    fail(runtime, first, "198.51.100.1", "ann", 10)
    with runtime.sessions() as session:
        found = second.check(session, "198.51.100.1", "ann")
        assert found is not None
        second.refuse(session, found, "ann", "198.51.100.1", "webdav")
        session.commit()
    assert len(audit_events(runtime)) == 2


def audit_events(runtime: Runtime) -> list[tuple[str, str, str, str]]:
    with runtime.sessions() as session:
        rows = session.execute(
            select(AuditEvent.user_login, AuditEvent.ip, AuditEvent.outcome, AuditEvent.detail)
            .where(AuditEvent.action == "login").order_by(AuditEvent.id)
        ).all()
    return [tuple(row) for row in rows]  # type: ignore[misc]


def test_odd_logins_and_sources_are_counted_never_refused_with_an_error(
    runtime: Runtime, clock: Clock
) -> None:
    throttle = throttle_of(clock)
    long_login, odd_source = "x" * 5000, "not-an-address-" + "y" * 200
    fail(runtime, throttle, odd_source, long_login, 10)
    assert blocked(runtime, throttle, odd_source, long_login) is not None
    fail(runtime, throttle, "", "nobody", 10)
    assert blocked(runtime, throttle, "", "nobody") is not None


def test_an_empty_login_counts_for_the_address_only(runtime: Runtime, clock: Clock) -> None:
    throttle = throttle_of(clock)
    fail(runtime, throttle, "198.51.100.1", "", 29)
    assert blocked(runtime, throttle, "198.51.100.1", "") is None
    fail(runtime, throttle, "198.51.100.1", "")
    assert blocked(runtime, throttle, "198.51.100.1", "anyone") is not None


def test_the_refusal_sentence_counts_minutes_up() -> None:
    assert too_many(1) == "Too many failed sign-ins from here; try again in 1 minute."
    assert too_many(61) == "Too many failed sign-ins from here; try again in 2 minutes."
    assert too_many(900) == "Too many failed sign-ins from here; try again in 15 minutes."


def test_rows_changed_by_hand_are_read_as_they_are(runtime: Runtime, clock: Clock) -> None:
    """An operator who moves a window back in the database lifts the refusal for
    processes that have not remembered it yet."""
    fail(runtime, throttle_of(clock), "198.51.100.1", "ann", 10)
    with runtime.sessions() as session:
        session.execute(update(SigninFailures).values(window_start=T0 - dt.timedelta(hours=1)))
        session.commit()
        assert session.scalar(select(func.count()).select_from(SigninFailures)) == 2
    assert blocked(runtime, throttle_of(clock), "198.51.100.1", "ann") is None


def test_without_returning_the_counters_are_read_back(
    runtime: Runtime, clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A SQLite older than 3.35 has no RETURNING: the failure reads its counters
    back with a second statement, and the refusal is remembered all the same."""
    monkeypatch.setattr(runtime.engine.dialect, "insert_returning", False)
    throttle = throttle_of(clock)
    fail(runtime, throttle, "198.51.100.1", "warm-up")
    with runtime.sessions() as session, recorded_statements(runtime.engine) as seen:
        throttle.failed(session, "198.51.100.1", "ann")
        session.commit()
    writes = without_write_lock(seen)
    assert [s.split()[0] for s in writes] == ["INSERT", "SELECT"]
    assert "RETURNING" not in writes[0]
    fail(runtime, throttle, "198.51.100.1", "ann", 9)
    assert throttle.remembered("198.51.100.1", "ann") is not None
