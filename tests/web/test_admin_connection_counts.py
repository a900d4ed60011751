"""Connection statistics of the admin view, counted apart from WebDAV (seed 002).

Rules: the admin view's requests count under the signed-in user's login on the
``admin`` interface ("" before sign-in); a sign-in counts one success, a refused
one a failure under the account's login, or under "" for a login no account has;
the same user's WebDAV requests count on the ``dav`` interface, in another row.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

from sqlalchemy import select
from werkzeug.test import Client, TestResponse

from davdrive.models import LoginStat
from davdrive.server import DriveApp
from tests.conftest import basic
from tests.web.conftest import Browserless, password_of


def closed(response: TestResponse) -> TestResponse:
    """The answer, closed as a server closes it once sent (the test client leaves
    answers open; a request is counted when its answer is closed)."""
    response.close()
    return response


def sign_in(browser: Browserless, login: str, password: str | None = None) -> int:
    closed(browser.get("/admin/signin"))
    form = {"login": login, "password": password or password_of(login)}
    return closed(browser.post("/admin/signin", form)).status_code


def _rows(app: DriveApp) -> dict[tuple[str, str], tuple[int, int, int]]:
    app.runtime.connection_stats.flush(app.runtime.sessions)
    with app.runtime.sessions() as session:
        return {
            (r.login, r.interface): (r.successes, r.failures, r.requests)
            for r in session.scalars(select(LoginStat).where(LoginStat.day == dt.date.today()))
        }


def test_admin_and_dav_requests_are_counted_apart(
    office: DriveApp, browser_for: Callable[..., Browserless]
) -> None:
    browser = browser_for()
    assert sign_in(browser, "ann") == 303  # the form and its POST: nobody signed in yet
    for _ in range(3):
        assert closed(browser.get("/admin/account")).status_code == 200
    dav = Client(office)
    for _ in range(2):
        assert dav.open("/dav/", method="PROPFIND", buffered=True, headers={
            "Depth": "0", "Authorization": basic("ann", password_of("ann"))}).status_code == 207
    rows = _rows(office)
    assert rows[("ann", "admin")] == (1, 0, 3)
    assert rows[("ann", "dav")][2] == 2, "her WebDAV requests, in their own row"
    assert rows[("", "admin")] == (0, 0, 2), "the sign-in form and its POST"


def test_refused_sign_ins_count_under_the_account_or_nobody(
    office: DriveApp, browser_for: Callable[..., Browserless]
) -> None:
    browser = browser_for()
    assert sign_in(browser, "olga", "not her password") == 200
    assert sign_in(browser, "fred") == 200  # former: his category may not sign in
    assert sign_in(browser, "nobody-at-all", "whatever password") == 200
    rows = _rows(office)
    assert rows[("olga", "admin")][:2] == (0, 1)
    assert rows[("fred", "admin")][:2] == (0, 1)
    assert rows[("", "admin")][1] == 1, "a made-up login adds no row of its own"
    assert not any(login == "nobody-at-all" for login, _ in rows)
