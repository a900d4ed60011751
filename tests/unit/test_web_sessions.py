"""Browser sessions (davdrive.web_sessions): the sign-in rule, and when a session ends."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import update
from sqlalchemy.orm import Session

from davdrive import accounts, web_sessions
from davdrive.models import WebSession
from davdrive.passwords import Passwords
from davdrive.runtime import Runtime
from davdrive.signin_throttle import SigninThrottle
from tests.conftest import CountingPasswords

LIFETIMES = web_sessions.Lifetimes(idle=dt.timedelta(minutes=60), maximum=dt.timedelta(hours=12))


@pytest.fixture
def mary(session: Session, runtime: Runtime) -> str:
    accounts.add_user(session, runtime.passwords, "mary", "member", password="mary-pass-phrase")
    session.commit()
    return "mary"


def _start(session: Session, passwords: Passwords, login: str) -> str:
    outcome = web_sessions.sign_in(session, passwords, login, f"{login}-pass-phrase", "127.0.0.1",
                                   throttle=SigninThrottle())
    assert outcome.user is not None, outcome.message
    token, _row = web_sessions.start(session, outcome.user, LIFETIMES)
    session.commit()
    return token


def test_a_session_holds_until_signed_out(session: Session, runtime: Runtime, mary: str) -> None:
    token = _start(session, runtime.passwords, mary)
    found = web_sessions.current(session, token, LIFETIMES)
    assert found is not None and found[0].login == "mary"
    web_sessions.end(session, token)
    session.commit()
    assert web_sessions.current(session, token, LIFETIMES) is None


def test_only_the_tokens_hash_is_stored(session: Session, runtime: Runtime, mary: str) -> None:
    token = _start(session, runtime.passwords, mary)
    stored = session.query(WebSession.token_hash).scalar()
    assert token not in stored and len(stored) == 64


def test_an_idle_session_ends(session: Session, runtime: Runtime, mary: str) -> None:
    token = _start(session, runtime.passwords, mary)
    long_ago = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=61)
    session.execute(update(WebSession).values(last_seen_at=long_ago))
    session.commit()
    assert web_sessions.current(session, token, LIFETIMES) is None
    assert session.query(WebSession).count() == 0, "the ended session is deleted"


def test_a_session_ends_at_its_maximum_age_even_in_use(
    session: Session, runtime: Runtime, mary: str
) -> None:
    token = _start(session, runtime.passwords, mary)
    session.execute(update(WebSession).values(
        expires_at=dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1)))
    session.commit()
    assert web_sessions.current(session, token, LIFETIMES) is None


def test_an_account_change_ends_its_sessions(session: Session, runtime: Runtime, mary: str) -> None:
    token = _start(session, runtime.passwords, mary)
    accounts.set_user(session, runtime.passwords, mary, active=False)
    session.commit()
    assert web_sessions.current(session, token, LIFETIMES) is None


def test_sign_in_gives_the_reason_only_with_the_right_password(
    session: Session, runtime: Runtime, mary: str
) -> None:
    accounts.set_user(session, runtime.passwords, mary, active=False)
    session.commit()
    throttle = runtime.signin_throttle
    right = web_sessions.sign_in(session, runtime.passwords, mary, "mary-pass-phrase", "",
                                 throttle=throttle)
    wrong = web_sessions.sign_in(session, runtime.passwords, mary, "not-it", "",
                                 throttle=throttle)
    unknown = web_sessions.sign_in(session, runtime.passwords, "nobody", "not-it", "",
                                   throttle=throttle)
    assert right.user is None and "disabled" in right.message
    assert wrong.message == unknown.message == web_sessions.WRONG_CREDENTIALS


def test_app_passwords_do_not_open_the_browser_side(
    session: Session, runtime: Runtime, mary: str
) -> None:
    token = accounts.app_password(session, mary, "phone")
    session.commit()
    outcome = web_sessions.sign_in(session, runtime.passwords, mary, token, "",
                                   throttle=runtime.signin_throttle)
    assert outcome.user is None and outcome.message == web_sessions.WRONG_CREDENTIALS


def test_a_throttled_sign_in_is_refused_before_any_check(
    session: Session, runtime: Runtime, mary: str
) -> None:
    """Issue 14: after 10 failures for mary from one address, the right password from
    there is refused with retry_after and the throttle's sentence, unchecked; from
    another address it signs in."""
    passwords, throttle = CountingPasswords(), runtime.signin_throttle
    for _ in range(10):
        web_sessions.sign_in(session, passwords, mary, "not-it", "198.51.100.1",
                             throttle=throttle)
        session.commit()
    before = passwords.verifications
    refused = web_sessions.sign_in(session, passwords, mary, "mary-pass-phrase", "198.51.100.1",
                                   throttle=throttle)
    assert refused.user is None and 0 < refused.retry_after <= 900
    assert refused.message == "Too many failed sign-ins from here; try again in 15 minutes."
    assert passwords.verifications == before
    other = web_sessions.sign_in(session, runtime.passwords, mary, "mary-pass-phrase",
                                 "203.0.113.7", throttle=throttle)
    assert other.user is not None
