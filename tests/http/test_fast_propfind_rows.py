"""The fast PROPFIND works on Core rows over the request's plain read connection.

Issue 12 (propfind1k): an ORM session costs more to open, begin and close than
the statements it runs, and ORM ``Node`` objects for the target more than the
walk. The listed folder is resolved with ``tree.walk_rows`` on
``RequestContext.reads`` and decided by the same rules as ``Drive.node_at``;
the listing's pages run on the same connection. When the fast path does not
answer (missing, hidden, a lock), the path is settled as ``Drive.chain``
settles it, so WsgiDAV's lookup that follows asks no SQL.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import unquote

from sqlalchemy import event
from werkzeug.test import EnvironBuilder

from davdrive import tree
from davdrive.models import Node, User
from davdrive.paths import name_key
from davdrive.server import DriveApp
from davdrive.users import actor_for
from provider.context import ENV_KEY, RequestContext
from provider.fast_propfind import PAGE
from provider.fast_read import FastReads
from tests.conftest import Dav, recorded_statements
from tests.http.test_fast_get_rows import assert_left_settled, through_fast_reads
from tests.http.test_fast_path_statements import NAMED, make_folder


def _fast_propfind(
    app: DriveApp, path: str, body: str = NAMED, depth: str = "1"
) -> tuple[RequestContext, list[str], bytes | None]:
    return through_fast_reads(app, path, "PROPFIND", data=body, headers={"Depth": depth})


def test_a_fast_listing_begins_no_orm_transaction(app: DriveApp, dav: Dav) -> None:
    """PROPFIND /dav/docs/ Depth 1 (rclone's properties) by a signed-in user whose
    sign-in and rights are cached: answered with no ORM session ever beginning a
    transaction (sign-in, walk and pages all on the plain read connection)."""
    make_folder(app.runtime, "docs", 5)
    assert dav("PROPFIND", "/dav/docs/", NAMED, Depth="1").status_code == 207  # warm
    begun: list[object] = []

    def _begun(session: object, transaction: Any) -> None:
        begun.append(session)

    event.listen(app.runtime.sessions, "after_transaction_create", _begun)
    try:
        response = dav("PROPFIND", "/dav/docs/", NAMED, Depth="1")
    finally:
        event.remove(app.runtime.sessions, "after_transaction_create", _begun)
    assert response.status_code == 207
    assert response.data.count(b"<D:href>") == 6
    assert begun == []


def test_a_missing_target_leaves_the_chain_settled_for_wsgidav(app: DriveApp) -> None:
    """PROPFIND /dav/docs/nothing/ goes on to WsgiDAV; its lookup of the same path
    (and of the folder) then runs no statement, and finds what the walk found."""
    make_folder(app.runtime, "docs", 5)
    ctx, seen, data = _fast_propfind(app, "/dav/docs/nothing/")
    try:
        assert_left_settled(app, ctx, seen, data, ["docs", "nothing"])
    finally:
        ctx.close()


def test_a_root_listing_leaves_the_chain_settled_for_wsgidav(app: DriveApp) -> None:
    """PROPFIND /dav/ Depth 1 (the root lists the back-office branch) goes on to
    WsgiDAV after the walk; WsgiDAV's lookup of the root then runs no statement."""
    ctx, seen, data = _fast_propfind(app, "/dav/")
    try:
        assert data is None
        assert sum(s.startswith("WITH RECURSIVE walk") for s in seen) == 1
        with recorded_statements(app.runtime.engine) as again:
            root = ctx.drive.node_at([])
        assert again == []
        assert root is not None and root.parent_id is None
    finally:
        ctx.close()


def test_pages_follow_the_name_keys_of_mixed_case_and_accented_names(app: DriveApp) -> None:
    """PROPFIND /dav/mixed/ Depth 1 over ``PAGE`` + 3 files whose names differ from their
    keys (upper case, decomposed accents): the next page starts after the key of the
    last name of a page (not fetched), so every file is listed exactly once, in the
    order of the keys."""
    names = [f"{'É' if i % 3 == 0 else 'e'}\u0301-{'F' if i % 2 else 'f'}{i:05d}.TXT"
             for i in range(PAGE + 3)]
    with app.runtime.sessions() as session:
        folder = Node(parent_id=tree.get_root(session).id, name="mixed", name_key="mixed",
                      kind="folder", mtime=0)
        session.add(folder)
        session.flush()
        session.add_all(Node(parent_id=folder.id, name=n, name_key=name_key(n), kind="file",
                             size=0, content_type="text/plain", mtime=0) for n in names)
        session.commit()
    ctx, seen, data = _fast_propfind(app, "/dav/mixed/")
    ctx.close()
    assert data is not None
    listed = [unquote(h) for h in re.findall(r"<D:href>/dav/mixed/([^<]+)</D:href>",
                                              data.decode())]
    assert listed == sorted(names, key=name_key)
    assert sum("FROM node" in s and "ORDER BY node.name_key" in s for s in seen) == 3


def _answer(app: DriveApp, path: str) -> tuple[dict[str, str], list[bytes]]:
    """(headers, chunks) of PROPFIND ``path`` Depth 1 answered by ``FastReads``."""
    environ = EnvironBuilder(path=path, method="PROPFIND", data=NAMED,
                             headers={"Depth": "1"}).get_environ()
    ctx = RequestContext(app.runtime, environ)
    with app.runtime.sessions() as session:
        ctx.actor = actor_for(session.query(User).filter_by(login="tester").one())
    environ[ENV_KEY] = ctx
    headers: dict[str, str] = {}

    def start_response(status: str, sent: list[tuple[str, str]], exc: Any = None) -> None:
        assert status.startswith("207")
        headers.update(sent)

    def wsgidav(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        raise AssertionError("left the fast path")

    try:
        chunks = list(FastReads(wsgidav, app.mount, app.provider)(environ, start_response))
    finally:
        ctx.close()
    return headers, chunks


def test_a_listing_in_one_chunk_declares_its_length(app: DriveApp) -> None:
    """PROPFIND /dav/thousand/ Depth 1 is complete in its first chunk: it carries
    ``Content-Length`` (as WsgiDAV's answer does), so the server sends it as is,
    without chunked framing; PROPFIND /dav/more/ (past one page, streamed) has none."""
    make_folder(app.runtime, "thousand", 1000)
    make_folder(app.runtime, "more", PAGE + 10)
    headers, chunks = _answer(app, "/dav/thousand/")
    assert len(chunks) == 1
    assert headers.get("Content-Length") == str(len(chunks[0]))
    assert chunks[0].count(b"<D:href>") == 1001
    headers, chunks = _answer(app, "/dav/more/")
    assert len(chunks) == 2 and "Content-Length" not in headers
    assert b"".join(chunks).count(b"<D:href>") == PAGE + 11

