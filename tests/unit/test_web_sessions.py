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

LIFETIMES = web_sessions.Lifetimes(idle=dt.timedelta(minutes=60), maximum=dt.timedelta(hours=12))


@pytest.fixture
def mary(session: Session, runtime: Runtime) -> str:
    accounts.add_user(session, runtime.passwords, "mary", "member", password="mary-pass-phrase")
    session.commit()
    return "mary"


def _start(session: Session, passwords: Passwords, login: str) -> str:
    outcome = web_sessions.sign_in(session, passwords, login, f"{login}-pass-phrase", "127.0.0.1")
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
    right = web_sessions.sign_in(session, runtime.passwords, mary, "mary-pass-phrase", "")
    wrong = web_sessions.sign_in(session, runtime.passwords, mary, "not-it", "")
    unknown = web_sessions.sign_in(session, runtime.passwords, "nobody", "not-it", "")
    assert right.user is None and "disabled" in right.message
    assert wrong.message == unknown.message == web_sessions.WRONG_CREDENTIALS


def test_app_passwords_do_not_open_the_browser_side(
    session: Session, runtime: Runtime, mary: str
) -> None:
    token = accounts.app_password(session, mary, "phone")
    session.commit()
    outcome = web_sessions.sign_in(session, runtime.passwords, mary, token, "")
    assert outcome.user is None and outcome.message == web_sessions.WRONG_CREDENTIALS
