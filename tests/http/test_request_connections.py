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
    """[the most connections this thread held at once, checkouts] inside the block."""
    pool = app.runtime.engine.pool
    me = threading.get_ident()
    held = [0]
    seen = [0, 0]

    def out(*_args: object) -> None:
        if threading.get_ident() == me:
            held[0] += 1
            seen[0] = max(seen[0], held[0])
            seen[1] += 1

    def back(*_args: object) -> None:
        if threading.get_ident() == me:
            held[0] -= 1

    event.listen(pool, "checkout", out)
    event.listen(pool, "checkin", back)
    try:
        yield seen
    finally:
        event.remove(pool, "checkout", out)
        event.remove(pool, "checkin", back)


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
