"""Issue 9, finding 6, timed coarsely: "repeats answer 401 in 3 ms instead of 180 ms".

With a real argon2 cost (32 MiB), repeating a disabled account's RIGHT password
takes about as long as a wrong password (median within a factor 2 either way;
a cache hit would be some 10x faster). The exact rule is checked by counting
verifications in test_signin_refusals.py; this only guards the wall clock.
"""

from __future__ import annotations

import statistics
import time

import pytest

from davdrive import accounts
from davdrive.passwords import Passwords
from davdrive.runtime import Runtime
from tests.conftest import Dav, basic


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
