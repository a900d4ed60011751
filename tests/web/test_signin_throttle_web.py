"""Issue 14: the admin view's sign-in shares the WebDAV throttle (DESIGN 5).

Rules checked (docs/security.md, "Throttling of failed sign-ins"):
- after 10 wrong posts for one login from one address, the 11th is answered 429
  with Retry-After and the sentence "Too many failed sign-ins from here; try
  again in N minutes.", no password is checked and no session starts;
- another address gets in; from the first one even the right password is refused;
- failures over WebDAV and in the browser count together;
- X-Forwarded-For names the client only from a trusted proxy (the same rule as WebDAV);
- the first refused attempt of a window is audited with "admin view";
- once the window has passed, the password is checked again.
"""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import pytest
from sqlalchemy import select
from werkzeug.test import Client, TestResponse

from davdrive.models import AuditEvent
from davdrive.passwords import Passwords
from davdrive.server import DriveApp
from davdrive.settings import Settings, load_settings
from tests.conftest import CountingPasswords, basic
from tests.web.conftest import Browserless, password_of

HERE, ELSEWHERE, PROXY = "198.51.100.1", "203.0.113.7", "10.0.0.1"
SENTENCE = re.compile(r"Too many failed sign-ins from here; try again in (\d+) minutes?\.")


@pytest.fixture
def fast_passwords() -> Passwords:
    return CountingPasswords()


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return load_settings(None, {}, {"data_dir": str(tmp_path / "data"), "server.port": 0,
                                    "server.trusted_proxies": [PROXY]})


def checks(app: DriveApp) -> int:
    passwords = app.runtime.passwords
    assert isinstance(passwords, CountingPasswords)
    return passwords.verifications


def wrong_posts(b: Browserless, login: str, times: int) -> list[int]:
    return [b.sign_in(login, "not-the-password").status_code for _ in range(times)]


def assert_throttled(b: Browserless, answer: TestResponse) -> None:
    assert answer.status_code == 429
    assert 0 < int(answer.headers["Retry-After"]) <= 15 * 60
    found = SENTENCE.search(b.page)
    assert found and 1 <= int(found.group(1)) <= 15, b.page
    assert b.session_cookie() is None


def test_the_eleventh_wrong_post_is_refused_unchecked_and_another_address_gets_in(
    office: DriveApp,
) -> None:
    here = Browserless(office, remote_addr=HERE)
    assert wrong_posts(here, "mary", 10) == [200] * 10
    before = checks(office)
    assert_throttled(here, here.sign_in("mary", "not-the-password"))
    assert "in 15 minutes." in here.page
    assert_throttled(here, here.sign_in("mary"))  # the right password too
    assert checks(office) == before
    elsewhere = Browserless(office, remote_addr=ELSEWHERE)
    assert elsewhere.sign_in("mary").status_code == 303
    assert elsewhere.session_cookie() is not None


def test_failures_over_webdav_and_in_the_browser_count_together(office: DriveApp) -> None:
    dav = Client(office)
    for _ in range(5):
        answer = dav.open("/dav/", method="PROPFIND", environ_overrides={"REMOTE_ADDR": HERE},
                          headers={"Authorization": basic("mary", "wrong"), "Depth": "0"})
        assert answer.status_code == 401
    here = Browserless(office, remote_addr=HERE)
    assert wrong_posts(here, "mary", 5) == [200] * 5
    assert_throttled(here, here.sign_in("mary"))
    answer = dav.open("/dav/", method="PROPFIND", environ_overrides={"REMOTE_ADDR": HERE},
                      headers={"Authorization": basic("mary", password_of("mary")),
                               "Depth": "0"})
    assert answer.status_code == 429


def test_behind_a_trusted_proxy_the_forwarded_client_is_counted(office: DriveApp) -> None:
    proxied = Browserless(office, remote_addr=PROXY)
    for _ in range(10):
        proxied.get("/admin/signin")
        proxied.post("/admin/signin", {"login": "mary", "password": "nope"},
                     X_Forwarded_For=HERE)
    proxied.get("/admin/signin")
    answer = proxied.post("/admin/signin", {"login": "mary", "password": password_of("mary")},
                          X_Forwarded_For=HERE)
    assert_throttled(proxied, answer)
    proxied.get("/admin/signin")
    answer = proxied.post("/admin/signin", {"login": "mary", "password": password_of("mary")},
                          X_Forwarded_For=ELSEWHERE)
    assert answer.status_code == 303
    with office.runtime.sessions() as session:
        ips = set(session.scalars(select(AuditEvent.ip).where(AuditEvent.action == "login")))
    assert ips == {HERE, ELSEWHERE}


def test_a_forged_forwarded_for_from_an_untrusted_peer_is_ignored(office: DriveApp) -> None:
    here = Browserless(office, remote_addr=HERE)
    for n in range(10):
        here.get("/admin/signin")
        here.post("/admin/signin", {"login": "mary", "password": "nope"},
                  X_Forwarded_For=f"192.0.2.{n}")
    here.get("/admin/signin")
    answer = here.post("/admin/signin", {"login": "mary", "password": password_of("mary")},
                       X_Forwarded_For="192.0.2.99")
    assert_throttled(here, answer)


def test_the_first_refused_post_of_a_window_is_audited(office: DriveApp) -> None:
    here = Browserless(office, remote_addr=HERE)
    wrong_posts(here, "mary", 13)
    with office.runtime.sessions() as session:
        throttled = session.execute(
            select(AuditEvent.user_login, AuditEvent.ip, AuditEvent.detail)
            .where(AuditEvent.action == "login", AuditEvent.outcome == "throttled")
        ).all()
    assert len(throttled) == 1
    login, ip, detail = throttled[0]
    assert (login, ip) == ("mary", HERE)
    assert detail.startswith("admin view: 10 failed sign-ins for this login")


def test_after_the_window_the_password_is_checked_again(office: DriveApp) -> None:
    here = Browserless(office, remote_addr=HERE)
    wrong_posts(here, "mary", 10)
    assert here.sign_in("mary").status_code == 429
    throttle = office.runtime.signin_throttle
    later = throttle.clock() + dt.timedelta(minutes=15, seconds=1)
    throttle.clock = lambda: later
    before = checks(office)
    assert here.sign_in("mary").status_code == 303
    assert checks(office) == before + 1
