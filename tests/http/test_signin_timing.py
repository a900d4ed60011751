"""Issue 9, finding 6, timed coarsely: "repeats answer 401 in 3 ms instead of 180 ms".

With a real argon2 cost (32 MiB), repeating a disabled account's RIGHT password
takes about as long as a wrong password (median within a factor 2 either way;
a cache hit would be some 10x faster). The exact rule is checked by counting
verifications in test_signin_refusals.py; this only guards the wall clock.
The 14 refusals from one address would pass the sign-in throttle's limit of 10
(tests/http/test_signin_throttle.py): it is raised here.
"""

from __future__ import annotations

import statistics
import time
from pathlib import Path

import pytest

from davdrive import accounts
from davdrive.passwords import Passwords
from davdrive.runtime import Runtime
from davdrive.settings import Settings, load_settings
from tests.conftest import Dav, basic


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return load_settings(None, {}, {"data_dir": str(tmp_path / "data"), "server.port": 0,
                                    "auth.throttle_per_login": 100})


@pytest.fixture
def fast_passwords() -> Passwords:
    return Passwords(time_cost=1, memory_cost=32 * 1024, parallelism=1)


def median_seconds(dav: Dav, login: str, password: str, runs: int = 7) -> float:
    dav.auth = basic(login, password)
    times = []
    for _ in range(runs):
        began = time.perf_counter()
        assert dav("PROPFIND", "/dav/", Depth="0").status_code == 401
        times.append(time.perf_counter() - began)
    return statistics.median(times)


def test_disabled_accounts_right_password_is_as_slow_as_a_wrong_one(
    dav: Dav, runtime: Runtime
) -> None:
    """PROPFIND /dav/ x7 with a disabled account's right password vs x7 with a wrong one."""
    with runtime.sessions() as session:
        accounts.set_user(session, runtime.passwords, "tester", active=False)
        session.commit()
    right = median_seconds(dav, "tester", "secret")
    wrong = median_seconds(dav, "tester", "not-the-password")
    assert 0.5 < right / wrong < 2.0, (right, wrong)
