"""The cost of a request does not grow with the drive: hot queries search an index.

Performance finding: path lookup scanned every live node through
ix_node_deleted_at (0.7 ms at 1,300 nodes, 12 ms at 51,000), so every request
got slower as the drive filled. Here the statements that the most frequent
requests run (as a member who sees part of a folder, and as a writer) are
captured and explained with SQLite's EXPLAIN QUERY PLAN: none may SCAN a table
that grows with the drive (nodes, locks, folder rights, dead properties), nor
walk the live nodes through the index on ``deleted_at`` alone; a SEARCH through
a selective index is what keeps the cost flat.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from sqlalchemy import event

from tests.http.club import LOCKINFO, PROPPATCH, Club

pytestmark = pytest.mark.sqlite_only("reads SQLite's EXPLAIN QUERY PLAN")

PROPFIND = (
    '<?xml version="1.0"?><D:propfind xmlns:D="DAV:"><D:prop><D:resourcetype/>'
    "<D:getcontentlength/><D:getetag/><D:getlastmodified/></D:prop></D:propfind>"
)


# Tables that grow with the drive; an index on deleted_at alone walks every live node.
SCANS = ("SCAN node", "SCAN dav_lock", "SCAN folder_right", "SCAN dead_property")


@contextmanager
def captured(club: Club) -> Iterator[list[tuple[str, Any]]]:
    seen: list[tuple[str, Any]] = []

    def _record(conn, cursor, statement, params, context, executemany):  # type: ignore[no-untyped-def]
        if statement.lstrip().upper().startswith(("SELECT", "WITH")) and not executemany:
            seen.append((statement, params))

    engine = club.runtime.engine
    event.listen(engine, "before_cursor_execute", _record)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", _record)


def _requests(club: Club) -> None:
    carol, wendy = club.as_("carol"), club.as_("wendy")
    for dav in (carol, wendy):
        dav("GET", "/dav/Club/Public.txt")
        dav("HEAD", "/dav/Club/Public.txt")
        dav("GET", "/dav/Club/Degree3.txt")  # hidden from both
        dav("GET", "/dav/Club/Nothing-here.txt")  # missing
        dav("PROPFIND", "/dav/Club/", PROPFIND, Depth="1")
        dav("PROPFIND", "/dav/Club/Public.txt", PROPFIND, Depth="0")
        dav("PROPFIND", "/dav/Club/", "", Depth="1")  # allprop: locks and dead properties
    wendy("PUT", "/dav/Club/Mine.txt", "mine")
    wendy("PUT", "/dav/Club/Mine.txt", "mine, again")
    wendy("PROPPATCH", "/dav/Club/Mine.txt", PROPPATCH)
    token = wendy("LOCK", "/dav/Club/Mine.txt", LOCKINFO).headers["Lock-Token"]
    wendy("UNLOCK", "/dav/Club/Mine.txt", **{"Lock-Token": token})
    wendy("MKCOL", "/dav/Club/Box")
    wendy("MOVE", "/dav/Club/Mine.txt", Destination="/dav/Club/Box/Mine.txt")
    wendy("COPY", "/dav/Club/Box/Mine.txt", Destination="/dav/Club/Copy.txt")
    wendy("DELETE", "/dav/Club/Box")


def _plan(club: Club, statement: str, params: Any) -> list[str]:
    with club.runtime.engine.connect() as conn:
        rows = conn.exec_driver_sql("EXPLAIN QUERY PLAN " + statement, params).all()
    return [row[-1] for row in rows]


def test_the_frequent_requests_never_scan_the_node_table(club: Club) -> None:
    with captured(club) as statements:
        _requests(club)
    assert len(statements) > 20
    scans = {}
    for statement, params in statements:
        plan = _plan(club, statement, params)
        bad = [step for step in plan if step.startswith(SCANS) or "ix_node_deleted_at" in step]
        if bad:
            scans[" ".join(statement.split())[:160]] = bad
    assert not scans, "\n".join(f"{s}\n  -> {b}" for s, b in scans.items())
