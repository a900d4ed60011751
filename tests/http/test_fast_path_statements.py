"""The fast path's SQL: a fixed, small number of statements, never one per entry.

Counted from the moment the signed-in request reaches ``FastReads`` (what
sign-in costs is counted by the authentication tests), on a real drive:

- GET or HEAD of a file: 2 statements, the path's chain (one recursive query,
  ``tree.resolve_chain``) and the category's folder rights (``FactBuilder``);
- PROPFIND Depth 1 with a named set of live properties: those 2, then one
  first page of children of both kinds (the kind is not in the index: a query
  per kind read every child twice), the folders' own query only when that page
  holds a folder or is full, and one more per further page of ``PAGE`` files:
  3 for 10 or 1,000 files, 5 for ``PAGE`` + 500 (first page, folders, second
  page); 4 for a few files and a subfolder;
- with allprop (or ``lockdiscovery`` asked for): one more, the check that no
  lock or dead property sends the request to WsgiDAV.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from werkzeug.test import EnvironBuilder

from davdrive import tree
from davdrive.models import Blob, Node, User
from davdrive.runtime import Runtime
from davdrive.server import DriveApp
from davdrive.users import actor_for
from provider.context import ENV_KEY, RequestContext
from provider.fast_propfind import CHUNK, PAGE, _blocked_query
from provider.fast_read import FastReads
from tests.conftest import recorded_statements

NAMED = (
    '<?xml version="1.0"?><D:propfind xmlns:D="DAV:"><D:prop><D:resourcetype/>'
    "<D:getcontentlength/><D:getlastmodified/><D:getetag/></D:prop></D:propfind>"
)


def make_folder(runtime: Runtime, name: str, files: int) -> None:
    """/``name`` with ``files`` files of 5 bytes, written as rows in one go."""
    blob = runtime.blobs.put_bytes(b"hello")
    with runtime.sessions() as session:
        if session.get(Blob, blob.sha256) is None:
            session.add(Blob(sha256=blob.sha256, sha1=blob.sha1, md5=blob.md5, size=blob.size))
        folder = Node(parent_id=tree.get_root(session).id, name=name, name_key=name.casefold(),
                      kind="folder", mtime=0)
        session.add(folder)
        session.flush()
        session.add_all(
            Node(parent_id=folder.id, name=f"f{i}.txt", name_key=f"f{i}.txt", kind="file",
                 blob_sha256=blob.sha256, size=5, content_type="text/plain", mtime=0)
            for i in range(files)
        )
        session.commit()


def _not_reached(environ: dict[str, Any], start_response: Any) -> Any:
    raise AssertionError(f"left the fast path: {environ['REQUEST_METHOD']} {environ['PATH_INFO']}")


def fast_statements(app: DriveApp, method: str, path: str, body: str = "",
                    **headers: str) -> tuple[int, bytes]:
    """(statements, body) of one request answered by ``FastReads`` alone."""
    fast = FastReads(_not_reached, app.mount, app.provider)
    environ = EnvironBuilder(path=path, method=method, data=body, headers=headers).get_environ()
    ctx = RequestContext(app.runtime, environ)
    with app.runtime.sessions() as session:
        ctx.actor = actor_for(session.query(User).filter_by(login="tester").one())
    environ[ENV_KEY] = ctx
    statuses: list[str] = []
    with recorded_statements(app.runtime.engine) as seen:
        answer = fast(environ, lambda status, headers, exc=None: statuses.append(status))
        data = b"".join(answer)
    ctx.close()
    assert statuses and statuses[0][:3] in ("200", "207")
    return len(seen), data


@pytest.fixture
def drive_app(app: DriveApp) -> DriveApp:
    make_folder(app.runtime, "ten", 10)
    make_folder(app.runtime, "thousand", 1000)
    make_folder(app.runtime, "more", PAGE + 500)
    make_folder(app.runtime, "mixed", 3)
    with app.runtime.sessions() as session:
        mixed = session.query(Node).filter_by(name="mixed").one()
        session.add(Node(parent_id=mixed.id, name="sub", name_key="sub", kind="folder",
                         mtime=0))
        session.commit()
    return app


def test_a_fast_get_or_head_costs_two_statements(drive_app: DriveApp) -> None:
    for method in ("GET", "HEAD"):
        count, data = fast_statements(drive_app, method, "/dav/thousand/f7.txt")
        assert count == 2, method
        assert data == (b"hello" if method == "GET" else b"")


def test_a_fast_listing_costs_the_same_for_10_and_1000_entries(drive_app: DriveApp) -> None:
    for folder, files, statements in (("ten", 10, 3), ("thousand", 1000, 3),
                                      ("more", PAGE + 500, 5), ("mixed", 4, 4)):
        count, data = fast_statements(drive_app, "PROPFIND", f"/dav/{folder}/", NAMED,
                                      Depth="1")
        assert data.count(b"<D:href>") == files + 1
        assert count == statements, f"{folder}: {count} statements"
        count, data = fast_statements(drive_app, "PROPFIND", f"/dav/{folder}/", "", Depth="1")
        assert data.count(b"<D:href>") == files + 1
        assert count == statements + 1, f"{folder} allprop: {count} statements"


def test_a_fast_depth_0_allprop_costs_three_statements(app: DriveApp) -> None:
    """Depth 0 lists no child: chain, rights, and the lock / dead property check."""
    count, data = fast_statements(app, "PROPFIND", "/dav/", "", Depth="0")
    assert count == 3
    assert data.count(b"<D:href>") == 1


def test_a_listing_selects_only_the_columns_its_properties_need(drive_app: DriveApp) -> None:
    """PROPFIND Depth 1 of /thousand/ with rclone's property set reads, per file, the
    name, the facts of the rights and the three values asked (no name key: the next
    page starts after the key of the last name; no creation date, content type or
    other columns: every column costs on every row); allprop reads the creation
    date and the content type too."""
    fast = FastReads(_not_reached, drive_app.mount, drive_app.provider)
    for body, wanted, unwanted in (
        (NAMED, ("name", "mtime", "size", "blob_sha256"),
         ("created_at", "content_type", "id", "name_key")),
        ("", ("created_at", "content_type", "blob_sha256"), ("id", "name_key")),
    ):
        environ = EnvironBuilder(path="/dav/thousand/", method="PROPFIND", data=body,
                                 headers={"Depth": "1"}).get_environ()
        ctx = RequestContext(drive_app.runtime, environ)
        with drive_app.runtime.sessions() as session:
            ctx.actor = actor_for(session.query(User).filter_by(login="tester").one())
        environ[ENV_KEY] = ctx
        with recorded_statements(drive_app.runtime.engine) as seen:
            b"".join(fast(environ, lambda status, headers, exc=None: None))
        ctx.close()
        files = seen[-1]  # the files' page comes last (after the folders')
        assert "ORDER BY node.name_key" in files
        selected = set(re.findall(r"node\.(\w+)", files.split(" FROM ")[0]))
        assert set(wanted) <= selected, (body, selected)
        assert not selected & set(unwanted), (body, selected)


def test_a_listing_is_sent_in_few_large_chunks(drive_app: DriveApp) -> None:
    """Each chunk of an answer is one write to the socket and, before it, a release of
    the DB connection that the next page takes again: PROPFIND /dav/thousand/ Depth 1
    comes in one chunk (item, entries and the closing tag); a listing past one page in
    one chunk per page at most, none much larger than a page."""
    fast = FastReads(_not_reached, drive_app.mount, drive_app.provider)
    for folder, files, most in (("ten", 10, 1), ("thousand", 1000, 1), ("more", PAGE + 500, 2)):
        environ = EnvironBuilder(path=f"/dav/{folder}/", method="PROPFIND", data=NAMED,
                                 headers={"Depth": "1"}).get_environ()
        ctx = RequestContext(drive_app.runtime, environ)
        with drive_app.runtime.sessions() as session:
            ctx.actor = actor_for(session.query(User).filter_by(login="tester").one())
        environ[ENV_KEY] = ctx
        chunks = list(fast(environ, lambda status, headers, exc=None: None))
        ctx.close()
        assert 1 <= len(chunks) <= most, (folder, len(chunks))
        body = b"".join(chunks)
        assert body.count(b"<D:href>") == files + 1
        assert body.endswith(b"</D:multistatus>")
        page = len(body) * PAGE // (files + 1)  # bytes of a page of entries
        assert max(len(c) for c in chunks) <= page + CHUNK, folder


def test_the_lock_and_dead_property_check_is_built_once(drive_app: DriveApp) -> None:
    """An allprop PROPFIND's check for locks and dead properties runs a statement built
    once per shape (building it cost more than running it): a second request on
    another folder builds nothing and runs the same SQL text."""
    texts = []
    for folder in ("ten", "thousand"):
        before = _blocked_query.cache_info().misses
        with recorded_statements(drive_app.runtime.engine) as seen:
            fast_statements(drive_app, "PROPFIND", f"/dav/{folder}/", "", Depth="1")
        texts.append([s for s in seen if "dead_property" in s])
        if folder == "thousand":
            assert _blocked_query.cache_info().misses == before
    assert len(texts[0]) == 1 and texts[0] == texts[1]
