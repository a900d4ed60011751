"""The fast GET decides on Core rows: no ORM object for a file it answers.

Issue 12 (GET of a small file): loading the path as ORM ``Node`` objects cost
more than the query. ``Drive.readable_file_row`` walks the same statement as
``tree.walk`` and applies the same rules (every node on the way seen, the file
readable, not junk, stored) to Core rows; when it does not answer, it settles
the path as ``Drive.chain`` does, so WsgiDAV's lookup that follows asks no SQL.
"""

from __future__ import annotations

from typing import Any

from werkzeug.test import EnvironBuilder

from davdrive.models import Node, User
from davdrive.server import DriveApp
from davdrive.users import actor_for
from provider.context import ENV_KEY, RequestContext
from provider.fast_read import FastReads
from tests.conftest import recorded_statements
from tests.http.test_fast_path_statements import make_folder


def through_fast_reads(
    app: DriveApp, path: str, method: str, **request: Any
) -> tuple[RequestContext, list[str], bytes | None]:
    """``method path`` through ``FastReads`` alone, as user tester (``request``: more
    ``EnvironBuilder`` arguments); (context left open, statements, body or None when
    it went on to WsgiDAV)."""
    passed: list[bool] = []

    def wsgidav(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        passed.append(True)
        return []

    environ = EnvironBuilder(path=path, method=method, **request).get_environ()
    ctx = RequestContext(app.runtime, environ)
    with app.runtime.sessions() as session:
        ctx.actor = actor_for(session.query(User).filter_by(login="tester").one())
    environ[ENV_KEY] = ctx
    with recorded_statements(app.runtime.engine) as seen:
        answer = FastReads(wsgidav, app.mount, app.provider)(environ, lambda *a: None)
        data = b"".join(answer)
    return ctx, seen, None if passed else data


def assert_left_settled(
    app: DriveApp, ctx: RequestContext, seen: list[str], data: bytes | None,
    missing: list[str],
) -> None:
    """The request went on to WsgiDAV after one walk; WsgiDAV's lookup of ``missing``
    and of its folder then runs no statement and finds what the walk found."""
    assert data is None
    assert sum(s.startswith("WITH RECURSIVE walk") for s in seen) == 1
    with recorded_statements(app.runtime.engine) as again:
        assert ctx.drive.node_at(missing) is None
        folder = ctx.drive.node_at(missing[:-1])
    assert again == []
    assert folder is not None and folder.name == missing[-2] and folder.is_folder
    assert folder in ctx.drive.session  # a real session object, as tree.walk gives


def _fast_get(app: DriveApp, path: str) -> tuple[RequestContext, list[str], bytes | None]:
    return through_fast_reads(app, path, "GET")


def test_a_fast_get_loads_no_orm_object(app: DriveApp) -> None:
    """GET /dav/docs/f3.txt: answered, and the request's session holds no Node."""
    make_folder(app.runtime, "docs", 5)
    ctx, _seen, data = _fast_get(app, "/dav/docs/f3.txt")
    try:
        assert data == b"hello"
        session = ctx.drive.session
        assert not [o for o in session.identity_map.values() if isinstance(o, Node)]
    finally:
        ctx.close()


def test_a_missing_file_leaves_the_chain_settled_for_wsgidav(app: DriveApp) -> None:
    """GET /dav/docs/nothing.txt goes on to WsgiDAV; its lookup of the same path
    (and of the folder) then runs no statement, and finds what the walk found."""
    make_folder(app.runtime, "docs", 5)
    ctx, seen, data = _fast_get(app, "/dav/docs/nothing.txt")
    try:
        assert_left_settled(app, ctx, seen, data, ["docs", "nothing.txt"])
    finally:
        ctx.close()
