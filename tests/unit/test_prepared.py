"""``Prepared`` answers exactly what Core execution answers, and stays observable.

Issue 12 (GET of a small file): SQLAlchemy's execution machinery cost more than
the two statements a signed-in GET runs. ``davdrive.prepared`` runs them from
SQL compiled once per dialect; what comes back must be what ``Connection.execute``
gives (same values, same Python types: booleans, datetimes, JSON lists), the
engine's statement events must still fire, and the plan for PostgreSQL must be
that dialect's own SQL and parameters.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from sqlalchemy import Column, Integer, MetaData, Table, bindparam, event, func, select, text
from sqlalchemy.dialects import postgresql
from sqlalchemy.exc import IntegrityError

from davdrive import signin, tree
from davdrive.models import Category, Lock, Node, User
from davdrive.prepared import Prepared, PreparedInsert
from davdrive.runtime import Runtime
from tests.conftest import add_user


def _user_id(runtime: Runtime, login: str) -> int:
    with runtime.sessions() as session:
        return session.query(User).filter_by(login=login).one().id


def _naive_utc(moment: dt.datetime) -> dt.datetime:
    return moment.astimezone(dt.UTC).replace(tzinfo=None) if moment.tzinfo else moment


def test_account_row_equals_core_execution(runtime: Runtime) -> None:
    """The sign-in statement: every column equal, booleans as bool, the expiry a
    datetime, the excluded doc types a list (JSON), as Core gives them."""
    expiry = dt.datetime(2031, 5, 4, 3, 2, 1)
    add_user(runtime, "ann", active=True, expires_at=expiry, login_hours="Mon-Fri 08:00-18:00")
    with runtime.sessions() as session:
        category = session.query(Category).filter_by(slug="docs-write").one()
        category.excluded_doc_types = ["treasury", "receipt"]
        session.commit()
    uid = _user_id(runtime, "ann")
    with runtime.engine.connect() as conn:
        core = conn.execute(signin._BY_ID, {"user_id": uid}).one()
        fast = Prepared(signin._BY_ID).first(conn, {"user_id": uid})
        missing = Prepared(signin._BY_ID).first(conn, {"user_id": uid + 1000})
    assert missing is None
    assert tuple(fast) == tuple(core)
    assert [type(v) for v in fast] == [type(v) for v in core]
    # active, expires_at (SQLite gives the UTC time naive, PostgreSQL aware)
    assert fast[5] is True and _naive_utc(fast[6]) == expiry
    row = signin.by_id(runtime.engine.connect(), uid)
    assert row is not None
    assert row.active is True and _naive_utc(row.expires_at) == expiry
    assert row.excluded_doc_types == ("treasury", "receipt")


def test_walk_rows_equal_core_execution(runtime: Runtime) -> None:
    """The path walk with content: the same rows, in the same order, with names."""
    with runtime.sessions() as session:
        root = tree.get_root(session)
        docs = Node(parent_id=root.id, name="Docs", name_key="docs", kind="folder", mtime=1.0)
        session.add(docs)
        session.commit()
    query = tree._chain_query(1, True)
    with runtime.engine.connect() as conn:
        core = conn.execute(query, {"key0": "docs"}).all()
        fast = tree.walk_rows(conn, ["DOCS"])
    assert [tuple(r) for r in fast] == [tuple(r) for r in core]
    assert [r.name for r in fast] == ["", "Docs"]
    assert fast[1].created_at == core[1].created_at
    assert isinstance(fast[1].created_at, dt.datetime)
    assert fast[1].protected is False and fast[1].inline_data is None


def test_statement_events_still_fire(runtime: Runtime) -> None:
    """Listeners of before/after_cursor_execute see the SQL and its parameters."""
    seen: list[tuple[str, Any, Any]] = []

    def before(conn, cursor, statement, params, context, executemany):  # type: ignore[no-untyped-def]
        seen.append(("before", statement, params))

    def after(conn, cursor, statement, params, context, executemany):  # type: ignore[no-untyped-def]
        seen.append(("after", statement, params))

    prepared = Prepared(select(User.login).where(User.id == bindparam("user_id")))
    event.listen(runtime.engine, "before_cursor_execute", before)
    event.listen(runtime.engine, "after_cursor_execute", after)
    try:
        with runtime.engine.connect() as conn:
            assert prepared.rows(conn, {"user_id": 12345}) == []
    finally:
        event.remove(runtime.engine, "before_cursor_execute", before)
        event.remove(runtime.engine, "after_cursor_execute", after)
    assert [s[0] for s in seen] == ["before", "after"]
    assert "FROM user_account" in seen[0][1]
    assert seen[0][2] in ((12345,), {"user_id": 12345})  # positional (SQLite) or named


def test_postgresql_gets_its_own_sql_and_named_parameters() -> None:
    """Compiled for PostgreSQL: pyformat placeholders and a dict of parameters (with
    the literal the statement binds itself), not SQLite's positional ``?``."""
    prepared = Prepared(tree._chain_query(1, True))
    plan = prepared._plan(postgresql.dialect())
    assert "?" not in plan.sql and "%(key0)s" in plan.sql
    args = plan.arguments({"key0": "docs"})
    assert isinstance(args, dict) and args["key0"] == "docs"
    assert 0 in args.values()  # the walk's first depth, a literal bound by the statement
    # Result processors are chosen from the driver's column types (PostgreSQL's
    # numeric ones need them): a float column reported as float8 (OID 701) needs none.
    mtime = [c.key for c in tree._chain_query(1, True).selected_columns].index("mtime")
    description = [("c", 25)] * len(plan.types)
    description[mtime] = ("mtime", 701)
    assert mtime not in {index for index, _ in plan._results(description)}


def test_expanding_parameters_are_refused(runtime: Runtime) -> None:
    prepared = Prepared(select(User.id).where(User.id.in_(bindparam("ids", expanding=True))))
    with runtime.engine.connect() as conn, pytest.raises(ValueError, match="expanding"):
        prepared.rows(conn, {"ids": [1, 2]})


def _node_values(parent_id: int, name: str) -> dict[str, Any]:
    return {"parent_id": parent_id, "name": name, "name_key": name.lower(), "kind": "file",
            "mtime": 12.5, "size": 3, "content_type": "text/plain"}


def test_an_insert_stores_what_core_stores(runtime: Runtime) -> None:
    """``PreparedInsert`` (the small PUT's node row): the row read back equals the
    one Core's INSERT makes from the same values, the columns not given holding
    their Python-side defaults (booleans, numbers, creation times)."""
    table = Node.__table__
    with runtime.sessions() as session:
        root = tree.get_root(session)
        session.commit()
        root_id = root.id
    with runtime.engine.connect() as conn:
        conn.execute(table.insert(), _node_values(root_id, "Core.txt"))
        PreparedInsert(table).run(conn, _node_values(root_id, "Fast.txt"))
        conn.commit()
        rows = {r.name: r for r in conn.execute(select(table).where(
            table.c.name.in_(["Core.txt", "Fast.txt"]))).all()}
    core, fast = rows["Core.txt"]._asdict(), rows["Fast.txt"]._asdict()
    assert fast["id"] != core["id"]
    for key in ("created_at", "updated_at"):
        assert isinstance(fast[key], dt.datetime)
        assert abs(fast[key] - core[key]) < dt.timedelta(seconds=30)
    ignored = {"id", "name", "name_key", "created_at", "updated_at"}
    assert {k: v for k, v in fast.items() if k not in ignored} == {
        k: v for k, v in core.items() if k not in ignored}
    assert fast["protected"] is False and fast["min_degree"] == 0
    assert fast["visibility"] == "shared" and fast["deleted_at"] is None


def test_a_refused_insert_raises_sqlalchemys_error(runtime: Runtime) -> None:
    """A second live node with the same name in a folder: IntegrityError, as Core
    raises it (callers tell a lost name race from it), and the events fired."""
    statements: list[str] = []

    def before(conn, cursor, statement, params, context, executemany):  # type: ignore[no-untyped-def]
        statements.append(statement)

    with runtime.sessions() as session:
        root_id = tree.get_root(session).id
        session.commit()
    event.listen(runtime.engine, "before_cursor_execute", before)
    try:
        with runtime.engine.connect() as conn:
            insert_node = PreparedInsert(Node.__table__)
            insert_node.run(conn, _node_values(root_id, "Twice.txt"))
            with pytest.raises(IntegrityError):
                insert_node.run(conn, _node_values(root_id, "Twice.txt"))
            conn.rollback()
    finally:
        event.remove(runtime.engine, "before_cursor_execute", before)
    assert sum(s.startswith("INSERT INTO node") for s in statements) == 2


def test_an_insert_that_needs_the_server_is_refused() -> None:
    """A column left to a server default, or to a SQL expression, cannot be computed
    here: refused when the statement is built, not stored wrong."""
    metadata = MetaData()
    with pytest.raises(ValueError):
        PreparedInsert(Table("t", metadata, Column("id", Integer, primary_key=True),
                             Column("n", Integer, server_default=text("0"))))
    with pytest.raises(ValueError):
        PreparedInsert(Table("u", metadata, Column("id", Integer, primary_key=True),
                             Column("n", Integer, default=func.abs(-1))))


def test_lock_candidates_for_the_root_and_deep_paths(runtime: Runtime) -> None:
    """The write check's lock query, prepared per number of ancestors: the root
    (none) and a deep path both run, and find a lock on an ancestor."""
    from provider.lock_storage import SqlLockStorage

    storage = SqlLockStorage(runtime.sessions)
    with runtime.sessions() as session:
        session.add(Lock(token="opaquelocktoken:t1", root="/dav/a", principal="ann",
                         scope="exclusive", type="write", depth="infinity", expire=-1,
                         owner="", timeout=-1))
        session.commit()
    with runtime.engine.connect() as conn:
        assert storage.write_candidates("/", children=False, session=conn) == []
        found = storage.write_candidates("/dav/a/b/c/d.txt", children=False, session=conn)
    assert [c["token"] for c in found] == ["opaquelocktoken:t1"]
