"""Dead properties are bounded per item and a PROPPATCH is one transaction.

Finding (issue 9, #4): "one PROPPATCH stored 40,000 dead properties in 55 s"
(a commit per property), after which a member's PROPFIND allprop of the
folder returned 4.6 MB. Rules checked here:

- RFC 4918 9.2: PROPPATCH is atomic. A property past a limit gets
  507 Insufficient Storage, every other property of the request 424 Failed
  Dependency, and nothing is stored.
- The limits (settings ``dav.max_dead_props``, ``dav.max_dead_props_bytes``,
  ``dav.max_dead_prop_value_bytes``) count what the item holds after the
  whole request, including what it held before.
- A PROPPATCH that is accepted is written with one COMMIT, however many
  properties it sets.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from lxml import etree
from sqlalchemy import event, func, select
from werkzeug.test import Client

from davdrive.models import DeadProperty, Node
from davdrive.passwords import Passwords
from davdrive.runtime import Runtime, open_runtime
from davdrive.server import DriveApp, create_app
from davdrive.settings import Settings
from tests.conftest import Dav, add_user, basic

D = "{DAV:}"


def proppatch_body(props: list[tuple[str, str]], remove: list[str] = ()) -> str:  # type: ignore[assignment]
    sets = "".join(f"<x:{name}>{value}</x:{name}>" for name, value in props)
    removes = "".join(f"<x:{name}/>" for name in remove)
    parts = ['<?xml version="1.0"?><D:propertyupdate xmlns:D="DAV:" xmlns:x="urn:x">']
    if removes:  # instructions apply in document order (RFC 4918 9.2)
        parts.append(f"<D:remove><D:prop>{removes}</D:prop></D:remove>")
    if sets:
        parts.append(f"<D:set><D:prop>{sets}</D:prop></D:set>")
    parts.append("</D:propertyupdate>")
    return "".join(parts)


def statuses(body: bytes) -> dict[str, str]:
    """{property name: status code} from a PROPPATCH multistatus."""
    root = etree.fromstring(body)
    result: dict[str, str] = {}
    for propstat in root.iter(f"{D}propstat"):
        status = propstat.findtext(f"{D}status") or ""
        code = re.search(r" (\d{3}) ", status)
        assert code, status
        for prop in propstat.find(f"{D}prop"):  # type: ignore[union-attr]
            result[prop.tag] = code.group(1)
    return result


def stored(runtime: Runtime) -> int:
    with runtime.sessions() as session:
        return session.scalar(select(func.count()).select_from(DeadProperty)) or 0


@contextmanager
def dead_property_commits(app: DriveApp) -> Iterator[list[int]]:
    """Counts the COMMITs that close a transaction which wrote dead properties, and the
    SQL statements run: ``[commits, statements]``."""
    engine = app.runtime.engine
    counts = [0, 0]
    dirty: set[int] = set()

    def on_statement(conn, cursor, statement, params, context, executemany):  # type: ignore[no-untyped-def]
        counts[1] += 1
        if "dead_property" in statement and not statement.lstrip().upper().startswith("SELECT"):
            dirty.add(id(conn.connection.dbapi_connection))

    def on_commit(conn):  # type: ignore[no-untyped-def]
        key = id(conn.connection.dbapi_connection)
        if key in dirty:
            dirty.discard(key)
            counts[0] += 1

    event.listen(engine, "before_cursor_execute", on_statement)
    event.listen(engine, "commit", on_commit)
    try:
        yield counts
    finally:
        event.remove(engine, "before_cursor_execute", on_statement)
        event.remove(engine, "commit", on_commit)


@pytest.fixture
def doc(dav: Dav) -> str:
    assert dav("PUT", "/dav/doc.txt", b"hello").status_code == 201
    return "/dav/doc.txt"


def test_proppatch_of_5000_properties_is_refused_quickly_and_stores_nothing(
    app: DriveApp, runtime: Runtime, dav: Dav, doc: str
) -> None:
    """Finding 4, "one PROPPATCH stored 40,000 dead properties in 55 s": a PROPPATCH
    of 5,000 properties now gets 207 with 507 for the properties past the limit
    (100) and 424 for the others; nothing is stored, and the refusal runs a
    fixed number of SQL statements (no statement per property)."""
    body = proppatch_body([(f"p{i}", "v") for i in range(5000)])
    started = time.monotonic()
    with dead_property_commits(app) as counts:
        response = dav("PROPPATCH", doc, body)
    elapsed = time.monotonic() - started
    assert response.status_code == 207
    result = statuses(response.data)
    assert len(result) == 5000
    assert set(result.values()) == {"507", "424"}, set(result.values())
    assert result["{urn:x}p100"] == "507" and result["{urn:x}p4999"] == "507"
    assert result["{urn:x}p0"] == "424" and result["{urn:x}p99"] == "424"
    assert stored(runtime) == 0, "a refused PROPPATCH stored properties"
    assert counts[0] == 0
    assert counts[1] < 40, f"{counts[1]} SQL statements to refuse one PROPPATCH"
    assert elapsed < 20, f"refusing took {elapsed:.1f} s"
    assert b"Insufficient Storage" in response.data


def test_proppatch_of_50_properties_is_stored_with_one_commit(
    app: DriveApp, runtime: Runtime, dav: Dav, doc: str
) -> None:
    """PROPPATCH of 50 properties and the drive's visibility: all 200, all stored, in
    ONE transaction (the finding's 55 s came from a commit per property)."""
    body = proppatch_body([(f"p{i}", "v") for i in range(50)]).replace(
        "<D:set><D:prop>",
        '<D:set><D:prop><d:visibility xmlns:d="urn:davdrive">private</d:visibility>',
    )
    commits: list[int] = []  # commits of transactions that wrote anything
    writing: set[int] = set()

    def on_statement(conn, cursor, statement, params, context, executemany):  # type: ignore[no-untyped-def]
        if not statement.lstrip().upper().startswith("SELECT"):
            writing.add(id(conn.connection.dbapi_connection))

    def on_commit(conn):  # type: ignore[no-untyped-def]
        if id(conn.connection.dbapi_connection) in writing:
            writing.discard(id(conn.connection.dbapi_connection))
            commits.append(1)

    # (a read-only transaction ended to give its connection back is not counted)
    event.listen(app.runtime.engine, "before_cursor_execute", on_statement)
    event.listen(app.runtime.engine, "commit", on_commit)
    with dead_property_commits(app) as counts:
        response = dav("PROPPATCH", doc, body)
    assert response.status_code == 207
    result = statuses(response.data)
    assert len(result) == 51 and set(result.values()) == {"200"}
    assert stored(runtime) == 50
    assert counts[0] == 1, f"{counts[0]} commits wrote dead properties"
    assert len(commits) == 1, f"{len(commits)} writing commits for one PROPPATCH"
    with runtime.sessions() as session:
        node = session.scalars(select(Node).where(Node.name == "doc.txt")).one()
        assert node.visibility == "private"
    listing = dav("PROPFIND", doc, '<D:propfind xmlns:D="DAV:"><D:prop><x:p49 xmlns:x="urn:x"/>'
                                   "</D:prop></D:propfind>", Depth="0")
    assert b">v</" in listing.data


def test_limit_counts_what_the_item_already_holds(
    runtime: Runtime, dav: Dav, doc: str
) -> None:
    """90 stored + 20 new > 100: the second PROPPATCH is refused as a whole; replacing
    or removing stored properties in the same request is what makes room."""
    assert dav("PROPPATCH", doc, proppatch_body([(f"a{i}", "v") for i in range(90)])).status_code \
        == 207
    assert stored(runtime) == 90
    response = dav("PROPPATCH", doc, proppatch_body([(f"b{i}", "v") for i in range(20)]))
    result = statuses(response.data)
    assert sorted(set(result.values())) == ["424", "507"]
    assert [k for k, v in result.items() if v == "424"] == [f"{{urn:x}}b{i}" for i in range(10)]
    assert stored(runtime) == 90
    # Removing 10 of the stored ones in the same request makes room for 20 new ones.
    body = proppatch_body([(f"b{i}", "v") for i in range(20)], remove=[f"a{i}" for i in range(10)])
    response = dav("PROPPATCH", doc, body)
    assert set(statuses(response.data).values()) == {"200"}, response.data[:500]
    assert stored(runtime) == 100


def test_value_and_total_size_limits_answer_507(runtime: Runtime, dav: Dav, doc: str) -> None:
    """One value over 16 KiB is refused; values that fit one by one but together pass
    64 KiB are refused as a request; nothing is stored either time."""
    big = "x" * (16 * 1024 + 1)
    result = statuses(dav("PROPPATCH", doc, proppatch_body([("ok", "v"), ("big", big)])).data)
    assert result == {"{urn:x}ok": "424", "{urn:x}big": "507"}
    fits = "y" * (15 * 1024)
    result = statuses(
        dav("PROPPATCH", doc, proppatch_body([(f"f{i}", fits) for i in range(5)])).data
    )
    assert [result[f"{{urn:x}}f{i}"] for i in range(5)] == ["424"] * 4 + ["507"]
    assert stored(runtime) == 0


def test_limits_are_settings(settings: Settings, fast_passwords: Passwords) -> None:
    """``dav.max_dead_props`` = 3: a fourth property is refused."""
    runtime = open_runtime(settings.replace(dav__max_dead_props=3), fast_passwords)
    app = create_app(runtime.settings, runtime)
    add_user(runtime, "tester", "secret", documents="write")
    dav = Dav(Client(app), basic("tester", "secret"))
    assert dav("PUT", "/dav/doc.txt", b"hello").status_code == 201
    result = statuses(dav("PROPPATCH", "/dav/doc.txt",
                          proppatch_body([(f"p{i}", "v") for i in range(4)])).data)
    assert result["{urn:x}p3"] == "507"
    assert stored(runtime) == 0
    assert set(statuses(dav("PROPPATCH", "/dav/doc.txt",
                            proppatch_body([(f"p{i}", "v") for i in range(3)])).data).values()) \
        == {"200"}
    runtime.close()

