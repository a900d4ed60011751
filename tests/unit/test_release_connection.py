"""``db.release_connection``: gives the pooled connection back, never decides about writes."""

from __future__ import annotations

from sqlalchemy import delete, select

from davdrive import db
from davdrive.models import DocType
from davdrive.runtime import Runtime


def checked_out(runtime: Runtime) -> int:
    return runtime.engine.pool.checkedout()  # type: ignore[attr-defined, no-any-return]


def test_a_read_transaction_is_ended_and_loaded_rows_stay_usable(runtime: Runtime) -> None:
    with runtime.sessions() as session:
        session.add(DocType(slug="minutes", label="Minutes"))
        session.commit()
        row = session.scalars(select(DocType)).one()
        assert checked_out(runtime) == 1
        db.release_connection(session)
        assert checked_out(runtime) == 0
        assert row.label == "Minutes"  # no reload needed
        assert checked_out(runtime) == 0


def test_flushed_writes_keep_their_transaction(runtime: Runtime) -> None:
    """A flushed but uncommitted insert is neither committed nor dropped by a release."""
    with runtime.sessions() as session:
        session.add(DocType(slug="draft", label="Draft"))
        session.flush()
        db.release_connection(session)
        assert checked_out(runtime) == 1
        session.rollback()
    with runtime.sessions() as session:
        assert session.scalars(select(DocType).where(DocType.slug == "draft")).first() is None


def test_bulk_statements_count_as_writes(runtime: Runtime) -> None:
    with runtime.sessions() as session:
        session.add(DocType(slug="gone", label="Gone"))
        session.commit()
        session.execute(delete(DocType).where(DocType.slug == "gone"))
        db.release_connection(session)
        session.rollback()
    with runtime.sessions() as session:
        assert session.scalars(select(DocType).where(DocType.slug == "gone")).first() is not None


def test_pool_is_sized_from_the_thread_count() -> None:
    assert db.pool_options(4) == {"pool_size": 4, "max_overflow": 4}
    assert db.pool_options(0)["pool_size"] == 1


def test_the_pool_hands_out_the_connection_given_back_last(runtime: Runtime) -> None:
    """Issue 12 (PROPFIND of 1,000 files, requests arriving one after another): each
    SQLite connection keeps its own page cache, so the one used last is the warm one.
    The pool is LIFO: a request gets the connection the previous request gave back,
    not the one idle the longest."""
    engine = runtime.engine
    first, second = engine.raw_connection(), engine.raw_connection()
    ids = id(first.dbapi_connection), id(second.dbapi_connection)
    first.close()
    second.close()  # given back last
    again = engine.raw_connection()
    try:
        assert id(again.dbapi_connection) == ids[1]
    finally:
        again.close()
