"""A burst of first sign-ins with one password runs argon2 once, not once per request.

A sync client starting (rclone with 8 parallel transfers, Finder opening a
folder) sends several requests at once before any is signed in. With
password checks bounded (``auth.max_parallel_checks``), each waiting request
re-reads the cache once it gets a slot: the first verification serves them
all, so none is turned away with 503 and the CPU cost is one argon2 run.
"""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from werkzeug.test import Client

from davdrive.passwords import Passwords
from davdrive.server import DriveApp
from davdrive.settings import Settings, load_settings
from tests.conftest import CountingPasswords, basic

BURST = 8


@pytest.fixture
def fast_passwords() -> Passwords:
    return CountingPasswords(memory_cost=32 * 1024)


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return load_settings(
        None,
        {},
        {
            "data_dir": str(tmp_path / "data"),
            "auth.max_parallel_checks": 1,
            "auth.check_wait_ms": 10_000,
        },
    )


def test_simultaneous_first_sign_ins_share_one_verification(app: DriveApp) -> None:
    """8 x PROPFIND /dav/ (Depth 0) released together with tester's right password:
    all 207, exactly one argon2 verification."""
    passwords = app.runtime.passwords
    assert isinstance(passwords, CountingPasswords)
    start = threading.Barrier(BURST)
    statuses: list[int] = []
    lock = threading.Lock()

    def sign_in() -> None:
        client = Client(app)
        start.wait()
        response = client.open(
            "/dav/", method="PROPFIND",
            headers={"Authorization": basic("tester", "secret"), "Depth": "0"},
        )
        with lock:
            statuses.append(response.status_code)

    threads = [threading.Thread(target=sign_in) for _ in range(BURST)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert statuses == [207] * BURST
    assert passwords.verifications == 1
