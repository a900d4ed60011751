"""Issue 9, finding 6: the credential cache is no password-confirmation oracle.

Rules checked (docs/security.md, "Sign-in"):
- a credential whose sign-in is refused (category without login, inactive,
  expired, outside login hours) is never cached, and answering it costs one
  password verification, exactly like a wrong password;
- the sign-in rule is applied on every cached hit too; a refused hit is dropped
  and costs a verification as well;
- revoking an app password, changing a password, a category's ``login`` flag or
  its rights is seen by the very next request.

Costs are counted through the real ``Passwords`` object (a subclass that counts
``verify`` calls and then runs the real argon2 check), not timed.
"""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select

from davdrive import accounts
from davdrive.hours import DAYS
from davdrive.models import AppPassword, User
from davdrive.passwords import Passwords
from davdrive.runtime import Runtime
from davdrive.server import DriveApp
from tests.conftest import CountingPasswords, Dav, add_user, basic


@pytest.fixture
def fast_passwords() -> Passwords:
    return CountingPasswords()


def counter(app: DriveApp) -> CountingPasswords:
    passwords = app.runtime.passwords
    assert isinstance(passwords, CountingPasswords)
    return passwords


def propfind(dav: Dav, login: str, password: str) -> int:
    dav.auth = basic(login, password)
    return dav("PROPFIND", "/dav/", Depth="0").status_code  # type: ignore[no-any-return]


def closed_hours_now() -> str:
    """A login-hours spec that excludes the present moment (a day other than today)."""
    other_day = DAYS[(dt.datetime.now().astimezone().weekday() + 3) % 7]
    return f"{other_day} 00:00-00:01"


REFUSALS: dict[str, dict[str, object]] = {
    "category without login": {"category": "former"},
    "inactive": {"active": False},
    "expired": {"expires_at": dt.datetime(2000, 1, 1, tzinfo=dt.UTC)},
    "outside login hours": {"login_hours": "CLOSED"},
}


def add_refused_user(runtime: Runtime, kind: str) -> None:
    fields: dict[str, object] = dict(REFUSALS[kind])
    if fields.get("login_hours") == "CLOSED":
        fields["login_hours"] = closed_hours_now()
    category = str(fields.pop("category", "docs-read"))
    add_user(
        runtime, "refused", "right-password", documents="read", category=category,
        **fields,  # type: ignore[arg-type]
    )
    if category == "former":
        with runtime.sessions() as session:
            accounts.set_category(session, "former", login=False)
            session.commit()


@pytest.mark.parametrize("kind", sorted(REFUSALS))
def test_refused_right_password_costs_what_a_wrong_one_costs_every_time(
    app: DriveApp, dav: Dav, runtime: Runtime, kind: str
) -> None:
    """PROPFIND /dav/ (Depth 0) three times with a refused account's RIGHT password:
    each answer is 401 after one password verification, as with a wrong password;
    previously the second and third were answered from the cache without one."""
    add_refused_user(runtime, kind)
    passwords = counter(app)
    before = passwords.verifications
    assert [propfind(dav, "refused", "right-password") for _ in range(3)] == [401] * 3
    right_cost = passwords.verifications - before
    before = passwords.verifications
    assert [propfind(dav, "refused", "wrong-password") for _ in range(3)] == [401] * 3
    wrong_cost = passwords.verifications - before
    assert right_cost == wrong_cost == 3
    assert len(app.controller.cache) == 0


def test_cached_user_is_refused_once_the_category_may_not_sign_in(
    app: DriveApp, dav: Dav, runtime: Runtime
) -> None:
    """PROPFIND /dav/ as a signed-in (cached) member, then the category's login
    flag is cleared: the very next PROPFIND is 401, costs one verification like
    a wrong password, and the cache entry is gone."""
    add_user(runtime, "member", "member-pw", documents="read", category="club")
    assert propfind(dav, "member", "member-pw") == 207
    assert len(app.controller.cache) == 1
    with runtime.sessions() as session:
        accounts.set_category(session, "club", login=False)
        session.commit()
    passwords = counter(app)
    before = passwords.verifications
    assert propfind(dav, "member", "member-pw") == 401
    assert passwords.verifications - before == 1
    assert len(app.controller.cache) == 0


def test_cached_hit_applies_the_sign_in_rule_even_without_a_version_change(
    app: DriveApp, dav: Dav, runtime: Runtime
) -> None:
    """PROPFIND /dav/ as a cached user whose account then expires by the clock
    (the row's expiry passes; nothing bumps auth_version): refused at once."""
    assert propfind(dav, "tester", "secret") == 207
    with runtime.sessions() as session:
        user = session.scalars(select(User).where(User.login_key == "tester")).one()
        user.expires_at = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1)
        session.commit()
    assert propfind(dav, "tester", "secret") == 401


def test_login_hours_closing_on_a_cached_user_are_seen_at_once(
    app: DriveApp, dav: Dav, runtime: Runtime
) -> None:
    """PROPFIND /dav/ as a cached user, then `user set --hours` to a window that
    excludes now: the next PROPFIND is 401 and nothing stays cached."""
    assert propfind(dav, "tester", "secret") == 207
    with runtime.sessions() as session:
        accounts.set_user(session, runtime.passwords, "tester", hours=closed_hours_now())
        session.commit()
    assert propfind(dav, "tester", "secret") == 401
    assert len(app.controller.cache) == 0


def test_password_changed_behind_the_cache_is_seen_at_once(
    dav: Dav, runtime: Runtime
) -> None:
    """PROPFIND /dav/ with a cached password after the stored hash changed
    (another process, auth_version untouched): the old password is refused."""
    assert propfind(dav, "tester", "secret") == 207
    with runtime.sessions() as session:
        user = session.scalars(select(User).where(User.login_key == "tester")).one()
        user.password_hash = runtime.passwords.hash("another-secret")
        session.commit()
    assert propfind(dav, "tester", "secret") == 401
    assert propfind(dav, "tester", "another-secret") == 207


def test_revoked_app_password_is_refused_on_the_very_next_request(
    app: DriveApp, dav: Dav, runtime: Runtime
) -> None:
    """PROPFIND /dav/ with an app password (207), revoke it, PROPFIND again: 401,
    although the cache lifetime (5 minutes) has not passed."""
    with runtime.sessions() as session:
        token = accounts.app_password(session, "tester", "sync")
        session.commit()
    assert propfind(dav, "tester", token) == 207
    assert propfind(dav, "tester", token) == 207
    with runtime.sessions() as session:
        accounts.revoke_app_password(session, "tester", "sync")
        session.commit()
        row = session.scalars(select(AppPassword)).one()
        assert row.revoked_at is not None
    assert propfind(dav, "tester", token) == 401
    assert propfind(dav, "tester", "secret") == 207


def test_app_passwords_cost_no_argon2_and_are_not_cached(
    app: DriveApp, dav: Dav, runtime: Runtime
) -> None:
    """PROPFIND /dav/ five times with an app password: no argon2 run at all
    (sha256 lookup), and nothing cached that could outlive a revocation."""
    with runtime.sessions() as session:
        token = accounts.app_password(session, "tester", "sync")
        session.commit()
    passwords = counter(app)
    before = passwords.verifications
    assert [propfind(dav, "tester", token) for _ in range(5)] == [207] * 5
    assert passwords.verifications == before
    assert len(app.controller.cache) == 0


def test_refused_account_with_right_app_password_costs_a_verification(
    app: DriveApp, dav: Dav, runtime: Runtime
) -> None:
    """PROPFIND /dav/ with the right app password of a disabled account: 401 after
    one verification, so it cannot be told from a wrong app password."""
    with runtime.sessions() as session:
        token = accounts.app_password(session, "tester", "sync")
        accounts.set_user(session, runtime.passwords, "tester", active=False)
        session.commit()
    passwords = counter(app)
    before = passwords.verifications
    assert propfind(dav, "tester", token) == 401
    assert propfind(dav, "tester", "not-the-token") == 401
    assert passwords.verifications - before == 2


def test_category_rights_change_is_seen_by_a_cached_user(
    dav: Dav, runtime: Runtime
) -> None:
    """PUT /dav/a.txt as a cached writer (201), the category drops to read:
    the next PUT is 403 at once."""
    add_user(runtime, "writer", "writer-pw", documents="write", category="editors")
    dav.auth = basic("writer", "writer-pw")
    assert dav("PUT", "/dav/a.txt", b"one").status_code == 201
    with runtime.sessions() as session:
        accounts.set_category(session, "editors", documents="read")
        session.commit()
    assert dav("PUT", "/dav/b.txt", b"two").status_code == 403


def test_unknown_user_and_wrong_password_cost_the_same(app: DriveApp, dav: Dav) -> None:
    """PROPFIND /dav/ as an unknown login and as a known login with a wrong
    password: one verification each (constant effort whether the user exists)."""
    passwords = counter(app)
    before = passwords.verifications
    assert propfind(dav, "nobody-here", "whatever") == 401
    assert passwords.verifications - before == 1
    assert propfind(dav, "tester", "whatever") == 401
    assert passwords.verifications - before == 2
