"""Locks have limits, and checking them costs the same however many there are.

Security finding 4: 2,000 shared locks with 50 KB owner texts stored 100 MB,
every listing of the folder then returned it, and creating them took 18
minutes because each conflict check read every lock of the item (owner texts
included) and walked the ancestors with one query each.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import func, select
from werkzeug.test import Client

from davdrive.models import Lock
from davdrive.passwords import Passwords
from davdrive.runtime import Runtime, open_runtime
from davdrive.server import DriveApp, create_app
from davdrive.settings import Settings, load_settings
from tests.conftest import Dav, add_user, basic, recorded_statements


def lockinfo(owner: str = "me", scope: str = "shared") -> str:
    return (
        '<?xml version="1.0"?><D:lockinfo xmlns:D="DAV:"><D:lockscope>'
        f"<D:{scope}/></D:lockscope><D:locktype><D:write/></D:locktype>"
        f"<D:owner>{owner}</D:owner></D:lockinfo>"
    )


@pytest.fixture
def limited(tmp_path: Path, fast_passwords: Passwords) -> Iterator[tuple[DriveApp, Runtime]]:
    settings: Settings = load_settings(None, {}, {
        "data_dir": str(tmp_path / "data"), "server.port": 0,
        "dav.locks_per_item": 4, "dav.locks_per_user": 6, "dav.lock_owner_max_bytes": 1024,
    })
    runtime = open_runtime(settings, fast_passwords)
    add_user(runtime, "tester", "secret", documents="write")
    add_user(runtime, "other", "secret", documents="write", category="docs-write")
    yield create_app(settings, runtime), runtime
    runtime.close()


def _count_locks(runtime: Runtime) -> int:
    with runtime.sessions() as session:
        return int(session.scalar(select(func.count()).select_from(Lock)) or 0)


def test_a_lock_owner_text_over_the_limit_is_refused_and_nothing_stored(
    limited: tuple[DriveApp, Runtime]
) -> None:
    app, runtime = limited
    dav = Dav(Client(app))
    dav("PUT", "/dav/a.txt", "a")
    response = dav("LOCK", "/dav/a.txt", lockinfo("x" * 50_000), Depth="0")
    assert response.status_code == 413
    assert b"1024" in response.data  # says what the limit is
    assert _count_locks(runtime) == 0
    assert dav("LOCK", "/dav/a.txt", lockinfo("x" * 900), Depth="0").status_code == 200


def test_shared_locks_on_one_item_stop_at_the_limit(limited: tuple[DriveApp, Runtime]) -> None:
    app, runtime = limited
    dav = Dav(Client(app))
    dav("PUT", "/dav/a.txt", "a")
    statuses = [dav("LOCK", "/dav/a.txt", lockinfo(), Depth="0").status_code for _ in range(6)]
    assert statuses == [200, 200, 200, 200, 507, 507]
    assert _count_locks(runtime) == 4


def test_one_user_holds_at_most_the_configured_number_of_locks(
    limited: tuple[DriveApp, Runtime]
) -> None:
    app, runtime = limited
    dav = Dav(Client(app))
    for i in range(8):
        dav("PUT", f"/dav/f{i}.txt", "x")
    statuses = [
        dav("LOCK", f"/dav/f{i}.txt", lockinfo(scope="exclusive"), Depth="0").status_code
        for i in range(8)
    ]
    assert statuses == [200] * 6 + [507, 507]
    other = Dav(Client(app), basic("other", "secret"))
    other("PUT", "/dav/theirs.txt", "y")
    assert other("LOCK", "/dav/theirs.txt", lockinfo(), Depth="0").status_code == 200


def _lock_cost(app: DriveApp, runtime: Runtime, path: str) -> list[str]:
    dav = Dav(Client(app))
    dav("PUT", path, "x")
    with recorded_statements(runtime.engine) as seen:
        assert dav("LOCK", path, lockinfo(), Depth="0").status_code == 200
    return [s for s in seen if "dav_lock" in s]


def test_the_conflict_check_runs_the_same_statements_however_many_locks_and_levels(
    app: DriveApp, runtime: Runtime
) -> None:
    """One query for the item and all its ancestors, whatever the depth and the
    number of locks already there; owner texts are never read for the check."""
    dav = Dav(Client(app))
    for folder in ("/dav/a", "/dav/a/b", "/dav/a/b/c", "/dav/a/b/c/d"):
        dav("MKCOL", folder)
    shallow = _lock_cost(app, runtime, "/dav/s.txt")
    for _ in range(10):
        dav("LOCK", "/dav/a/b/c/d/deep.txt", lockinfo("y" * 2000), Depth="0")
    deep = _lock_cost(app, runtime, "/dav/a/b/c/d/deep.txt")
    assert len(deep) == len(shallow), "\n".join(deep)
    checks = [s for s in deep if s.startswith("SELECT") and "count(" not in s]
    assert checks and all("dav_lock.owner" not in s for s in checks[:1]), checks
