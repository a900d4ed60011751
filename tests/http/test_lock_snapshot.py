"""The one lock query a write request makes never hides a lock it must see.

Issue 12: "One 'any lock here?' query per write." A request's write checks
share one read of the locks on its URL and its ancestors. Rules checked with
the app's real lock manager and SQL storage, inside a real request context
(as WsgiDAV calls them for PUT /dav/Docs/new.txt: the folder, then the new
file): a lock granted to someone else between the first check and the start
of the write is still refused with 423 (WsgiDAV's guard against a LOCK
slipping in between, CWE-367); a lock released meanwhile no longer blocks;
checks outside the request's own URL and its ancestors ask the database.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from wsgidav.dav_error import HTTP_LOCKED, DAVError

from davdrive.server import DriveApp
from provider.context import RequestContext
from provider.lock_manager import DriveLockManager
from tests.conftest import recorded_statements

NEW = "/dav/Docs/new.txt"


def manager_of(app: DriveApp) -> DriveLockManager:
    manager = app.provider.lock_manager
    assert isinstance(manager, DriveLockManager)
    return manager


@contextmanager
def request_to(app: DriveApp, path_info: str) -> Iterator[RequestContext]:
    """A request context for ``/dav<path_info>``, current on this thread, as
    ContextMiddleware and WsgiDAV's resolver leave it."""
    manager = manager_of(app)
    assert manager.current is not None
    environ: dict[str, Any] = {
        "wsgidav.provider": app.provider, "SCRIPT_NAME": "/dav", "PATH_INFO": path_info,
    }
    ctx = RequestContext(app.runtime, environ)
    manager.current.ctx = ctx
    try:
        yield ctx
    finally:
        manager.current.ctx = None
        ctx.close()


def lock(app: DriveApp, url: str, principal: str, depth: str = "0") -> str:
    """LOCK as another request would (no request context of ours)."""
    result = manager_of(app).acquire(
        url=url, lock_type="write", lock_scope="exclusive", lock_depth=depth,
        lock_owner=b"<D:owner>someone</D:owner>", timeout=600, principal=principal,
        token_list=[],
    )
    return str(result["token"])


def lock_queries(statements: list[str]) -> int:
    return sum(1 for s in statements if s.startswith("SELECT") and "FROM dav_lock" in s)


def test_put_checks_share_one_query(app: DriveApp) -> None:
    """Folder check, then the write of the new file: one dav_lock select."""
    manager = manager_of(app)
    with request_to(app, "/Docs/new.txt"), recorded_statements(app.runtime.engine) as seen:
        manager.check_write_permission(url="/dav/Docs/", depth="0", token_list=[],
                                       principal="tester")
        with manager.write_transaction(url=NEW, token_list=[], principal="tester"):
            pass
    assert lock_queries(seen) == 1


def test_a_lock_granted_between_check_and_write_is_refused(app: DriveApp) -> None:
    """Folder check passes (nothing locked), then another user locks the new
    file's URL, then the write begins: 423, although the snapshot predates it."""
    manager = manager_of(app)
    with request_to(app, "/Docs/new.txt"):
        manager.check_write_permission(url="/dav/Docs/", depth="0", token_list=[],
                                       principal="tester")
        lock(app, NEW, "other")
        with (
            pytest.raises(DAVError) as refused,
            manager.write_transaction(url=NEW, token_list=[], principal="tester"),
        ):
            pass
    assert refused.value.value == HTTP_LOCKED


def test_a_deep_lock_granted_above_between_check_and_write_is_refused(app: DriveApp) -> None:
    """As above with a depth-infinity lock on /dav/Docs taken in between: 423."""
    manager = manager_of(app)
    with request_to(app, "/Docs/new.txt"):
        manager.check_write_permission(url=NEW, depth="0", token_list=[], principal="tester")
        lock(app, "/dav/Docs", "other", depth="infinity")
        with (
            pytest.raises(DAVError),
            manager.write_transaction(url=NEW, token_list=[], principal="tester"),
        ):
            pass


def test_a_lock_released_between_check_and_write_no_longer_blocks(app: DriveApp) -> None:
    """The file is locked at the first check (423), released by its holder, and
    the write then begins in the same request: allowed."""
    manager = manager_of(app)
    token = lock(app, NEW, "other")
    with request_to(app, "/Docs/new.txt"):
        with pytest.raises(DAVError):
            manager.check_write_permission(url=NEW, depth="0", token_list=[],
                                           principal="tester")
        manager.release(token)
        with manager.write_transaction(url=NEW, token_list=[], principal="tester"):
            pass


def test_a_lock_held_with_its_token_is_not_a_conflict(app: DriveApp) -> None:
    """The holder writes with its token (If header): allowed; without it: 423."""
    manager = manager_of(app)
    token = lock(app, NEW, "tester")
    with request_to(app, "/Docs/new.txt"):
        manager.check_write_permission(url=NEW, depth="0", token_list=[token],
                                       principal="tester")
        with pytest.raises(DAVError):
            manager.check_write_permission(url=NEW, depth="0", token_list=[],
                                           principal="tester")


def test_checks_elsewhere_and_below_ask_the_database(app: DriveApp) -> None:
    """Inside a request to /Docs/new.txt, a check of another URL (a MOVE's
    destination) and a depth-infinity check of the folder are not answered from
    the snapshot: a lock there is found."""
    manager = manager_of(app)
    lock(app, "/dav/Other/x.txt", "other")
    lock(app, "/dav/Docs/sub/deep.txt", "other")
    with request_to(app, "/Docs/new.txt"):
        manager.check_write_permission(url=NEW, depth="0", token_list=[], principal="tester")
        with pytest.raises(DAVError):
            manager.check_write_permission(url="/dav/Other/x.txt", depth="0",
                                           token_list=[], principal="tester")
        with pytest.raises(DAVError):
            manager.check_write_permission(url="/dav/Docs", depth="infinity",
                                           token_list=[], principal="tester")
