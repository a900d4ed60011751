"""Read connections kept per thread between requests (davdrive.read_connections).

Rules: a kept connection never carries a transaction into the next request; a
thread keeps at most one; ``release_kept`` and ``close`` give them back to the
pool; without ``keep`` (databases other than SQLite) nothing is kept.
"""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import text

from davdrive.read_connections import ReadConnections
from davdrive.runtime import Runtime

pytestmark = pytest.mark.sqlite_only("read connections are kept per thread on SQLite only")


def _checked_out(runtime: Runtime) -> int:
    return int(runtime.engine.pool.checkedout())  # type: ignore[attr-defined]


def test_a_kept_connection_comes_back_without_a_transaction(runtime: Runtime) -> None:
    reads = ReadConnections(runtime.engine, keep=True)
    conn = reads.take()
    conn.execute(text("SELECT 1"))  # SQLAlchemy begins a transaction
    dbapi = conn.connection.dbapi_connection
    assert dbapi is not None
    dbapi.execute("BEGIN")  # and one the driver began by itself
    reads.finish(conn)
    again = reads.take()
    assert again is conn
    assert not again.in_transaction() and not dbapi.in_transaction
    reads.finish(again)
    assert reads.kept() == 1
    reads.close()
    assert reads.kept() == 0 and _checked_out(runtime) == 0


def test_each_thread_keeps_its_own_and_release_kept_gives_it_back(runtime: Runtime) -> None:
    reads = ReadConnections(runtime.engine, keep=True)
    mine = reads.take()
    reads.finish(mine)
    theirs: list[object] = []

    def other() -> None:
        conn = reads.take()
        theirs.append(conn)
        reads.finish(conn)

    thread = threading.Thread(target=other)
    thread.start()
    thread.join()
    assert theirs[0] is not mine and reads.kept() == 2
    reads.release_kept()  # this thread's only
    assert reads.kept() == 1 and _checked_out(runtime) == 1
    reads.close()
    assert _checked_out(runtime) == 0
    later = reads.take()
    reads.finish(later)  # after close: back to the pool, not kept
    assert reads.kept() == 0 and _checked_out(runtime) == 0


def test_nothing_is_kept_without_keep(runtime: Runtime) -> None:
    reads = ReadConnections(runtime.engine, keep=False)
    conn = reads.take()
    reads.finish(conn)
    assert reads.kept() == 0 and _checked_out(runtime) == 0
