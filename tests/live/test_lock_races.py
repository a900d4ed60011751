"""Exclusive locks are exclusive across threads and processes: the database decides.

Rule (issue "reliability", finding 8): the conflict check and the insert of a lock
row run in one transaction holding the database's write lock, so of concurrent
conflicting LOCKs exactly one is granted, whether they come through one server
(threads) or through separate database connections (as two processes would have).
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, func, select
from wsgidav.dav_error import HTTP_LOCKED, DAVError

from davdrive import db
from davdrive.models import Lock
from davdrive.runtime import Runtime
from davdrive.settings import Settings, load_settings
from provider.lock_manager import DriveLockManager, LockLimits
from provider.lock_storage import SqlLockStorage
from tests.conftest import LiveServer
from tests.live.test_creation_races import CLIENTS, LOCK_BODY, race, request

pytestmark = pytest.mark.live


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    """All clients share 127.0.0.1: the per-address cap (tested elsewhere) is lifted."""
    return load_settings(None, {}, {
        "data_dir": str(tmp_path / "data"), "server.port": 0,
        "server.max_connections_per_ip": 0,
    })


def test_exclusive_lock_race_on_one_file_through_the_server_grants_one(
    live: LiveServer,
) -> None:
    """16 x LOCK /dav/report.docx (exclusive, depth 0, the file exists): one 200, the
    others 423 (RFC 4918 9.10.6: the item is locked), never a second lock."""
    assert request(live, "PUT", "/dav/report.docx", b"report")[0] == 201
    results = race(
        live,
        lambda i: request(live, "LOCK", "/dav/report.docx", LOCK_BODY.encode(),
                          Depth="0", Timeout="Second-60",
                          **{"Content-Type": "application/xml"}),
    )
    assert Counter(status for status, _ in results) == Counter({200: 1, 423: CLIENTS - 1})
    with live.app.runtime.sessions() as session:
        assert session.scalar(select(func.count()).select_from(Lock)) == 1


def _lock(root: str, *, depth: str = "0", scope: str = "exclusive") -> dict[str, Any]:
    return {"type": "write", "scope": scope, "depth": depth, "owner": b"racer",
            "principal": "tester", "timeout": 60.0}


def _race_storages(
    storages: list[SqlLockStorage], make: Callable[[int], tuple[str, dict[str, Any]]]
) -> Counter[str]:
    """Call ``create`` from CLIENTS threads at once, alternating ``storages``."""
    barrier = threading.Barrier(CLIENTS)
    outcome: list[str] = [""] * CLIENTS

    def run(i: int) -> None:
        path, lock = make(i)
        barrier.wait(timeout=30)
        try:
            storages[i % len(storages)].create(path, lock)
            outcome[i] = "granted"
        except DAVError as exc:
            outcome[i] = "423" if exc.value == HTTP_LOCKED else f"error {exc.value}"
        except Exception as exc:  # any other failure is a wrong answer
            outcome[i] = repr(exc)

    at_once(run)
    return Counter(outcome)


@pytest.fixture
def two_engines(runtime: Runtime, settings: Settings) -> list[Engine]:
    """The runtime's engine and a second one on the same SQLite file (another
    process's connections, as far as SQLite's locking goes)."""
    other = db.make_engine(settings.database_url, 8)
    yield [runtime.engine, other]  # type: ignore[misc]
    other.dispose()


def test_two_database_connections_inserting_one_exclusive_lock_grant_one(
    two_engines: list[Engine],
) -> None:
    """16 x SqlLockStorage.create('/dav/a.txt', exclusive) over two engines on one
    SQLite file, with no in-process lock around them: one granted, 15 refused (423),
    one row stored."""
    storages = [SqlLockStorage(db.make_session_factory(e)) for e in two_engines]
    outcome = _race_storages(storages, lambda i: ("/dav/a.txt", _lock("/dav/a.txt")))
    assert outcome == Counter({"granted": 1, "423": CLIENTS - 1})
    with storages[1]._sessions() as session:
        assert session.scalar(select(func.count()).select_from(Lock)) == 1


def test_deep_lock_on_a_folder_and_locks_below_it_grant_one(
    two_engines: list[Engine],
) -> None:
    """Thread 0 locks /dav/f (exclusive, depth infinity) while 15 others lock
    /dav/f/<i>.txt (exclusive, depth 0), over two engines: either the deep lock is
    granted and all 15 refused, or it is refused (423) and the 15 granted."""
    storages = [SqlLockStorage(db.make_session_factory(e)) for e in two_engines]

    def make(i: int) -> tuple[str, dict[str, Any]]:
        if i == 0:
            return "/dav/f", _lock("/dav/f", depth="infinity")
        return f"/dav/f/{i}.txt", _lock(f"/dav/f/{i}.txt")

    for _ in range(3):
        with storages[0]._sessions.begin() as session:
            session.execute(Lock.__table__.delete())
        outcome = _race_storages(storages, make)
        with storages[0]._sessions() as session:
            deep = session.scalar(select(func.count()).where(Lock.root == "/dav/f"))
        if deep:
            assert outcome == Counter({"granted": 1, "423": CLIENTS - 1})
        else:
            assert outcome == Counter({"granted": CLIENTS - 1, "423": 1})


def test_shared_locks_on_one_file_are_all_granted(two_engines: list[Engine]) -> None:
    """16 x shared lock on /dav/s.txt over two engines: shared locks do not conflict
    (RFC 4918 6.2), all 16 granted: the check refuses conflicts only."""
    storages = [SqlLockStorage(db.make_session_factory(e)) for e in two_engines]
    outcome = _race_storages(
        storages, lambda i: ("/dav/s.txt", _lock("/dav/s.txt", scope="shared"))
    )
    assert outcome == Counter({"granted": CLIENTS})


def test_per_user_lock_limit_holds_under_a_race_of_two_connections(
    two_engines: list[Engine],
) -> None:
    """dav.locks_per_user = 3; 16 x LOCK /dav/u<i>.txt by one user at once through two
    DriveLockManagers on two engines: exactly 3 granted, 13 refused with 507 (the
    limit is counted in the transaction that stores the lock, not before it)."""
    limits = LockLimits(owner_max_bytes=1024, per_item=100, per_user=3)
    managers = [
        DriveLockManager(SqlLockStorage(db.make_session_factory(e)), limits)
        for e in two_engines
    ]
    barrier = threading.Barrier(CLIENTS)
    outcome: list[str] = [""] * CLIENTS

    def run(i: int) -> None:
        barrier.wait(timeout=30)
        try:
            managers[i % 2].acquire(
                url=f"/dav/u{i}.txt", lock_type="write", lock_scope="exclusive",
                lock_depth="0", lock_owner=b"racer", timeout=60, principal="tester",
                token_list=[],
            )
            outcome[i] = "granted"
        except DAVError as exc:
            outcome[i] = str(exc.value)
        except Exception as exc:  # any other failure is a wrong answer
            outcome[i] = repr(exc)

    at_once(run)
    assert Counter(outcome) == Counter({"granted": 3, "507": CLIENTS - 3})


def at_once(run: Callable[[int], None]) -> None:
    """``run(i)`` for each of the CLIENTS in its own thread; returns when all ended."""
    threads = [threading.Thread(target=run, args=(i,)) for i in range(CLIENTS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
