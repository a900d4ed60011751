"""HTTP Basic sign-in: argon2id, a credential cache that forgets on change, rule 1."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import func, select

from davdrive.models import AuditEvent, Category, User
from davdrive.runtime import Runtime
from davdrive.server import DriveApp
from tests.conftest import Dav, add_user, basic


def propfind(dav: Dav, login: str, password: str) -> int:
    dav.auth = basic(login, password)
    return dav("PROPFIND", "/dav/", Depth="0").status_code


def change_user(runtime: Runtime, login: str, **values: object) -> None:
    with runtime.sessions() as session:
        user = session.scalars(select(User).where(User.login_key == login)).one()
        for key, value in values.items():
            setattr(user, key, value)
        user.auth_version += 1
        session.commit()


def test_right_password_signs_in_and_wrong_one_gets_401(dav: Dav) -> None:
    assert propfind(dav, "tester", "secret") == 207
    response = dav("PROPFIND", "/dav/", Depth="0", Authorization=basic("tester", "wrong"))
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"].startswith("Basic ")
    assert "Digest" not in response.headers["WWW-Authenticate"]


def test_login_is_case_insensitive(dav: Dav) -> None:
    assert propfind(dav, "TESTER", "secret") == 207


def test_unknown_user_gets_401(dav: Dav) -> None:
    assert propfind(dav, "nobody", "secret") == 401


def test_cached_credentials_are_dropped_when_the_password_changes(
    dav: Dav, runtime: Runtime
) -> None:
    assert propfind(dav, "tester", "secret") == 207  # now cached
    change_user(runtime, "tester", password_hash=runtime.passwords.hash("new-secret"))
    assert propfind(dav, "tester", "secret") == 401
    assert propfind(dav, "tester", "new-secret") == 207


def test_cache_avoids_argon2_on_repeated_requests(app: DriveApp, dav: Dav) -> None:
    calls = []
    real_verify = app.runtime.passwords.verify

    def counting_verify(stored: str | None, password: str) -> bool:
        calls.append(password)
        return real_verify(stored, password)

    app.runtime.passwords.verify = counting_verify  # type: ignore[method-assign]
    for _ in range(5):
        assert propfind(dav, "tester", "secret") == 207
    assert len(calls) == 1


def test_disabled_account_is_refused_even_with_cached_credentials(
    dav: Dav, runtime: Runtime
) -> None:
    assert propfind(dav, "tester", "secret") == 207
    change_user(runtime, "tester", active=False)
    assert propfind(dav, "tester", "secret") == 401


def test_expired_account_is_refused(dav: Dav, runtime: Runtime) -> None:
    change_user(runtime, "tester", expires_at=dt.datetime(2000, 1, 1, tzinfo=dt.UTC))
    assert propfind(dav, "tester", "secret") == 401


def test_category_without_login_is_refused(dav: Dav, runtime: Runtime) -> None:
    add_user(runtime, "former", "pw", documents="read", category="former")
    with runtime.sessions() as session:
        session.scalars(select(Category).where(Category.slug == "former")).one().login = False
        session.commit()
    assert propfind(dav, "former", "pw") == 401


def test_refused_sign_ins_are_audited_with_a_reason(dav: Dav, runtime: Runtime) -> None:
    propfind(dav, "tester", "wrong")
    change_user(runtime, "tester", active=False)
    propfind(dav, "tester", "secret")
    with runtime.sessions() as session:
        details = session.scalars(
            select(AuditEvent.detail).where(AuditEvent.action == "login")
        ).all()
    assert "wrong login or password" in details
    assert "the account is disabled" in details


def test_failed_sign_in_changes_nothing_but_the_audit(dav: Dav, runtime: Runtime) -> None:
    with runtime.sessions() as session:
        before = session.scalar(select(func.count()).select_from(User))
    dav.auth = basic("tester", "wrong")
    assert dav("MKCOL", "/dav/new/").status_code == 401
    dav.auth = basic("tester", "secret")
    assert dav("PROPFIND", "/dav/new/", Depth="0").status_code == 404
    with runtime.sessions() as session:
        assert session.scalar(select(func.count()).select_from(User)) == before


def test_read_only_category_cannot_create(dav: Dav, runtime: Runtime) -> None:
    add_user(runtime, "reader", "pw", documents="read")
    dav.auth = basic("reader", "pw")
    assert dav("PROPFIND", "/dav/", Depth="1").status_code == 207
    assert dav("MKCOL", "/dav/x/").status_code == 403
    assert dav("PUT", "/dav/x.txt", b"data").status_code == 403
    dav.auth = basic("tester", "secret")
    assert dav("PROPFIND", "/dav/x.txt", Depth="0").status_code == 404
