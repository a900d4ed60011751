"""A request holds one pooled connection at a time.

Sign-in from the cache and the fast GET read on a plain Core connection
(``RequestContext.reads``, cheaper than an ORM session); the request's session
takes its own connection only when it begins a transaction, and the reads
connection is given back at that moment. So the pool, sized one connection per
thread plus as many again (``davdrive.db.pool_options``), never runs dry
because a request kept both. (LOCK is the one exception, by design: the lock
storage commits on a short session of its own while the request's is open.)
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from sqlalchemy import event
from sqlalchemy.orm import Session

from davdrive.server import DriveApp
from tests.conftest import Dav

LOCKINFO = (
    '<?xml version="1.0"?><D:lockinfo xmlns:D="DAV:"><D:lockscope><D:exclusive/>'
    "</D:lockscope><D:locktype><D:write/></D:locktype></D:lockinfo>"
)


@contextmanager
def most_held(app: DriveApp) -> Iterator[list[int]]:
    """[the most connections this thread held at once, statements run] inside the
    block. The read connection a thread keeps between requests
    (``davdrive.read_connections``) counts as held from the start: the test client
    runs every request on this thread."""
    engine = app.runtime.engine
    me = threading.get_ident()
    held = [app.runtime.reads.kept()]
    seen = [held[0], 0]

    def out(*_args: object) -> None:
        if threading.get_ident() == me:
            held[0] += 1
            seen[0] = max(seen[0], held[0])

    def back(*_args: object) -> None:
        if threading.get_ident() == me:
            held[0] -= 1

    def statement(*_args: object) -> None:
        if threading.get_ident() == me:
            seen[1] += 1

    event.listen(engine.pool, "checkout", out)
    event.listen(engine.pool, "checkin", back)
    event.listen(engine, "before_cursor_execute", statement)
    try:
        yield seen
    finally:
        event.remove(engine.pool, "checkout", out)
        event.remove(engine.pool, "checkin", back)
        event.remove(engine, "before_cursor_execute", statement)


def test_each_request_holds_one_connection_at_a_time(app: DriveApp, dav: Dav) -> None:
    assert dav("MKCOL", "/dav/Docs").status_code == 201
    assert dav("PUT", "/dav/Docs/a.txt", b"a").status_code == 201  # signs in (argon2)
    requests = [
        ("GET", "/dav/Docs/a.txt", b"", {}, 200, 1),  # fast path: reads only
        ("GET", "/dav/Docs/missing.txt", b"", {}, 404, 1),  # reads, then the session
        ("PROPFIND", "/dav/Docs/", b"", {"Depth": "1"}, 207, 1),
        ("PUT", "/dav/Docs/b.txt", b"b", {}, 201, 1),
        ("PUT", "/dav/Docs/b.txt", b"bb", {"If-Match": "*"}, 204, 1),  # through WsgiDAV
        ("MKCOL", "/dav/Docs/Sub", b"", {}, 201, 1),
        ("DELETE", "/dav/Docs/Sub", b"", {}, 204, 1),
        ("LOCK", "/dav/Docs/a.txt", LOCKINFO.encode(), {"Timeout": "Second-60"}, 200, 2),
    ]
    for method, path, body, headers, status, most in requests:
        with most_held(app) as seen:
            response = dav(method, path, body, **headers)
        assert response.status_code == status, (method, path, response.data)
        assert seen[1] >= 1, (method, path)  # the request did use the database
        assert seen[0] == most, f"{method} {path} held {seen[0]} connections at once"


def test_a_fast_get_opens_no_orm_session(app: DriveApp, dav: Dav) -> None:
    """GET /dav/Docs/a.txt by a signed-in (cached) user: sign-in and the walk run on
    the reads connection; the request makes no ORM session at all (making, beginning
    and closing one cost more than both statements). A GET of a missing name does go
    on to WsgiDAV, on a session."""
    assert dav("MKCOL", "/dav/Docs").status_code == 201
    assert dav("PUT", "/dav/Docs/a.txt", b"a").status_code == 201
    factory = app.runtime.sessions
    made: list[object] = []

    def counting(**kwargs: Any) -> Session:
        made.append(kwargs)
        return factory(**kwargs)

    app.runtime.sessions = counting  # type: ignore[assignment]
    try:
        response = dav("GET", "/dav/Docs/a.txt")
        assert response.status_code == 200 and response.data == b"a"
        assert made == []
        assert dav("GET", "/dav/Docs/missing.txt").status_code == 404
        assert made, "the WsgiDAV path runs on the request's session"
    finally:
        app.runtime.sessions = factory


@pytest.mark.sqlite_only("read connections are kept per thread on SQLite only")
def test_fast_gets_of_one_thread_reuse_one_connection(app: DriveApp, dav: Dav) -> None:
    """A fast GET leaves its read connection with the thread: the next one takes none
    from the pool (checking one out and back cost about 15% of the GET's CPU)."""
    assert dav("MKCOL", "/dav/Docs").status_code == 201
    assert dav("PUT", "/dav/Docs/a.txt", b"a").status_code == 201
    assert dav("GET", "/dav/Docs/a.txt").status_code == 200
    checkouts: list[object] = []

    def checkout(*args: object) -> None:
        checkouts.append(args)

    event.listen(app.runtime.engine.pool, "checkout", checkout)
    try:
        for _ in range(3):
            response = dav("GET", "/dav/Docs/a.txt")
            assert response.status_code == 200 and response.data == b"a"
    finally:
        event.remove(app.runtime.engine.pool, "checkout", checkout)
    assert checkouts == []
    assert app.runtime.reads.kept() == 1
