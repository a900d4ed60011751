"""Issue 14: brute-force throttling of WebDAV sign-in (DESIGN 5).

Rules checked (docs/security.md, "Throttling of failed sign-ins"):
- 10 failures for one login from one address within 15 minutes: the next
  attempt for that login from there is 429 with Retry-After, and no password is
  checked (argon2 or the cache of verified passwords); another address gets in;
- 30 failures from one address (any logins): every account password from there
  is 429, the right one too; another address is unaffected;
- X-Forwarded-For names the client only when the peer is a trusted proxy; a
  forged one from anybody else changes nothing;
- two apps on one database agree (the counters are rows, not memory);
- once the window has passed, attempts are checked again;
- the first refused attempt of a window is audited, and so is every sign-in
  that needed a password verification (outcome "ok", detail "webdav").

Costs are counted through ``CountingPasswords`` (the real argon2, counted), time
through the throttle's clock.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import pytest
from werkzeug.test import Client, TestResponse

from davdrive import accounts
from davdrive.passwords import Passwords
from davdrive.runtime import Runtime, open_runtime
from davdrive.server import DriveApp, create_app
from davdrive.settings import Settings, load_settings
from tests.conftest import CountingPasswords, basic
from tests.unit.test_signin_throttle import audit_events as login_events

HERE, ELSEWHERE = "198.51.100.1", "203.0.113.7"
PROXY = "10.0.0.1"


@pytest.fixture
def fast_passwords() -> Passwords:
    return CountingPasswords()


def checks(app: DriveApp) -> int:
    """Password verifications (argon2) run so far by ``app``."""
    passwords = app.runtime.passwords
    assert isinstance(passwords, CountingPasswords)
    return passwords.verifications


def propfind(app: DriveApp, login: str, password: str, ip: str = HERE,
             **headers: str) -> TestResponse:
    return Client(app).open(
        "/dav/", method="PROPFIND", environ_overrides={"REMOTE_ADDR": ip},
        headers={"Authorization": basic(login, password), "Depth": "0",
                 **{k.replace("_", "-"): v for k, v in headers.items()}},
    )


def statuses(app: DriveApp, login: str, password: str, times: int, ip: str = HERE,
             **headers: str) -> list[int]:
    return [propfind(app, login, password, ip, **headers).status_code for _ in range(times)]


def assert_throttled(answer: TestResponse) -> None:
    """429 with a Retry-After within the window, a sentence, and no account named."""
    assert answer.status_code == 429
    assert 0 < int(answer.headers["Retry-After"]) <= 15 * 60
    body = answer.get_data(as_text=True)
    assert "Too many failed sign-ins from here; try again in" in body
    assert "tester" not in body
    assert "WWW-Authenticate" not in answer.headers


def test_the_eleventh_wrong_password_is_refused_unchecked_and_the_owner_gets_in_elsewhere(
    app: DriveApp,
) -> None:
    assert statuses(app, "tester", "wrong", 10) == [401] * 10
    assert checks(app) == 10
    assert_throttled(propfind(app, "tester", "wrong"))
    assert checks(app) == 10  # no argon2 for the refused attempt
    assert propfind(app, "tester", "secret", ELSEWHERE).status_code == 207
    # Now cached (verified from elsewhere): from here it is still refused, unchecked.
    before = checks(app)
    assert_throttled(propfind(app, "tester", "secret"))
    assert checks(app) == before


def test_thirty_failures_from_one_address_refuse_every_login_from_there(app: DriveApp) -> None:
    for n in range(30):
        assert propfind(app, f"user{n}", "wrong").status_code == 401
    before = checks(app)
    assert_throttled(propfind(app, "tester", "secret"))
    assert_throttled(propfind(app, "someone-else", "whatever"))
    assert checks(app) == before
    assert propfind(app, "tester", "secret", ELSEWHERE).status_code == 207


def test_a_blocked_address_gets_no_answer_from_the_cache(app: DriveApp) -> None:
    """The owner signed in from here (cached); 10 wrong guesses follow from here:
    the right password from here is now 429 as well, so a guess that happens to be
    right tells nothing."""
    assert propfind(app, "tester", "secret").status_code == 207
    assert statuses(app, "tester", "guess", 10) == [401] * 10
    before = checks(app)
    assert_throttled(propfind(app, "tester", "secret"))
    assert_throttled(propfind(app, "tester", "guess"))
    assert checks(app) == before


def test_after_the_window_attempts_are_checked_again(app: DriveApp) -> None:
    assert statuses(app, "tester", "wrong", 10) == [401] * 10
    assert_throttled(propfind(app, "tester", "secret"))
    throttle = app.runtime.signin_throttle
    later = throttle.clock() + dt.timedelta(minutes=15, seconds=1)
    throttle.clock = lambda: later
    before = checks(app)
    assert propfind(app, "tester", "wrong").status_code == 401
    assert propfind(app, "tester", "secret").status_code == 207
    assert checks(app) == before + 2


def test_an_app_password_still_works_from_a_throttled_address(
    app: DriveApp, runtime: Runtime
) -> None:
    """App passwords are random tokens, nothing to guess: a sync client behind an
    address somebody else got throttled keeps working (docs/security.md)."""
    with runtime.sessions() as session:
        token = accounts.app_password(session, "tester", "sync")
        session.commit()
    for n in range(30):
        propfind(app, f"user{n}", "wrong")
    assert_throttled(propfind(app, "tester", "secret"))
    assert propfind(app, "tester", token).status_code == 207


# --- X-Forwarded-For -----------------------------------------------------------------


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return load_settings(None, {}, {"data_dir": str(tmp_path / "data"), "server.port": 0,
                                    "server.trusted_proxies": [PROXY]})


def test_behind_a_trusted_proxy_each_client_is_counted_on_its_own(app: DriveApp) -> None:
    assert statuses(app, "tester", "wrong", 10, PROXY, X_Forwarded_For=HERE) == [401] * 10
    assert_throttled(propfind(app, "tester", "secret", PROXY, X_Forwarded_For=HERE))
    # Another client behind the same proxy, and the proxy's own address, are not refused.
    assert propfind(app, "tester", "secret", PROXY, X_Forwarded_For=ELSEWHERE).status_code == 207
    assert propfind(app, "tester", "secret", PROXY).status_code == 207
    # What a client puts left of the proxy's entry is not believed.
    forged = f"{ELSEWHERE}, {HERE}"
    assert_throttled(propfind(app, "tester", "secret", PROXY, X_Forwarded_For=forged))
    # A malformed header from the proxy: the proxy's own address counts, never a 500.
    for header in ("[::1, not-an-ip,", ",,,", "x" * 3000, "999.1.1.1"):
        answer = propfind(app, "tester", "secret", PROXY, X_Forwarded_For=header)
        assert answer.status_code == 207


def test_a_forged_forwarded_for_from_an_untrusted_peer_does_not_escape(app: DriveApp) -> None:
    for n in range(10):
        answer = propfind(app, "tester", "wrong", HERE, X_Forwarded_For=f"192.0.2.{n}")
        assert answer.status_code == 401
    assert_throttled(propfind(app, "tester", "secret", HERE, X_Forwarded_For="192.0.2.200"))
    assert_throttled(propfind(app, "tester", "secret", HERE, X_Forwarded_For="garbage,,"))


def test_the_audit_names_the_client_behind_the_proxy(app: DriveApp, runtime: Runtime) -> None:
    propfind(app, "tester", "wrong", PROXY, X_Forwarded_For=HERE)
    assert [event[1] for event in login_events(runtime)] == [HERE]


# --- several processes -------------------------------------------------------------------


@pytest.fixture
def second_app(settings: Settings, app: DriveApp) -> Iterator[DriveApp]:
    """Another app with its own runtime (engine, caches, memory) on the same database."""
    other = create_app(settings, open_runtime(settings, CountingPasswords()))
    yield other
    other.close()


def test_two_apps_on_one_database_agree_on_the_counters(
    app: DriveApp, second_app: DriveApp
) -> None:
    assert statuses(app, "tester", "wrong", 5) == [401] * 5
    assert statuses(second_app, "tester", "wrong", 5) == [401] * 5
    assert_throttled(propfind(app, "tester", "wrong"))
    assert_throttled(propfind(second_app, "tester", "wrong"))
    # The owner from elsewhere, through the second app: in, and now cached there...
    assert propfind(second_app, "tester", "secret", ELSEWHERE).status_code == 207
    # ...which does not make the right password an answer from the refused address.
    before = checks(second_app)
    assert_throttled(propfind(second_app, "tester", "secret"))
    assert checks(second_app) == before


def test_a_cached_refusal_on_another_app_costs_no_check_from_a_throttled_address(
    app: DriveApp, second_app: DriveApp, runtime: Runtime
) -> None:
    """The owner is cached on the second app from here; the first app then counts
    10 failures from here and the category loses its sign-in (the cache entry still
    matches the account): the second app's cached hit is refused with 429, without
    the verification a refusal costs otherwise."""
    assert propfind(second_app, "tester", "secret").status_code == 207
    assert statuses(app, "tester", "wrong", 10) == [401] * 10
    with runtime.sessions() as session:
        accounts.set_category(session, "docs-write", login=False)
        session.commit()
    before = checks(second_app)
    assert_throttled(propfind(second_app, "tester", "secret"))
    assert checks(second_app) == before


# --- audit -------------------------------------------------------------------------------


def test_the_first_refused_attempt_of_a_window_is_audited_once(
    app: DriveApp, runtime: Runtime
) -> None:
    statuses(app, "tester", "wrong", 10)
    assert statuses(app, "tester", "wrong", 3) == [429] * 3
    throttled = [e for e in login_events(runtime) if e[2] == "throttled"]
    assert len(throttled) == 1
    assert throttled[0][:2] == ("tester", HERE)
    assert throttled[0][3].startswith("webdav: 10 failed sign-ins for this login")


def test_a_verified_sign_in_is_audited_and_a_cached_one_is_not(
    app: DriveApp, runtime: Runtime
) -> None:
    assert statuses(app, "tester", "secret", 3) == [207] * 3
    assert login_events(runtime) == [("tester", HERE, "ok", "webdav")]
