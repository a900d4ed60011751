"""Signing in with an app password does not write to the database on every request.

Issue 12: "Hot paths ... per request" — a sync client signing in with an app
password made one durable commit per request (its last use). Rule: the last
use is stored when it is older than a minute (``LAST_USE_PRECISION``), so a
burst of requests writes once; it is still stored on first use, and a
revoked token is still refused at the very next request.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select, update

from auth.domain_controller import LAST_USE_PRECISION
from davdrive import accounts
from davdrive.models import AppPassword
from davdrive.runtime import Runtime
from davdrive.server import DriveApp
from tests.conftest import Dav, basic, recorded_statements


def writes(statements: list[str]) -> list[str]:
    return [s for s in statements if s.split(" ", 1)[0] in ("INSERT", "UPDATE", "DELETE")]


def last_used(runtime: Runtime) -> dt.datetime | None:
    with runtime.sessions() as session:
        return session.scalars(select(AppPassword.last_used_at)).one()


def test_a_burst_of_requests_with_an_app_password_writes_its_last_use_once(
    app: DriveApp, runtime: Runtime, dav: Dav
) -> None:
    """PROPFIND /dav/ ten times with an app password: 207 each time, one UPDATE
    of app_password in all, and the last use is set."""
    with runtime.sessions() as session:
        token = accounts.app_password(session, "tester", "sync")
        session.commit()
    dav.auth = basic("tester", token)
    with recorded_statements(runtime.engine) as statements:
        answers = [dav("PROPFIND", "/dav/", Depth="0").status_code for _ in range(10)]
    assert answers == [207] * 10
    written = writes(statements)
    assert len(written) == 1 and written[0].startswith("UPDATE app_password SET last_used_at")
    assert last_used(runtime) is not None


def test_the_last_use_is_written_again_once_it_is_older_than_the_precision(
    app: DriveApp, runtime: Runtime, dav: Dav
) -> None:
    """The stored last use is set back by more than a minute: the next request
    stores it again."""
    with runtime.sessions() as session:
        token = accounts.app_password(session, "tester", "sync")
        session.commit()
    dav.auth = basic("tester", token)
    assert dav("PROPFIND", "/dav/", Depth="0").status_code == 207
    old = dt.datetime.now(dt.UTC) - LAST_USE_PRECISION - dt.timedelta(seconds=5)
    with runtime.sessions() as session:
        session.execute(update(AppPassword).values(last_used_at=old))
        session.commit()
    with recorded_statements(runtime.engine) as statements:
        assert dav("PROPFIND", "/dav/", Depth="0").status_code == 207
    assert len(writes(statements)) == 1
    stored = last_used(runtime)
    assert stored is not None
    assert stored.replace(tzinfo=dt.UTC) > old + LAST_USE_PRECISION
