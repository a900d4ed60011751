"""PostgreSQL as the metadata database (DESIGN 10), on a real server whatever
``--database`` says (the suites run on it with ``--database=postgresql``).

Rules: every migration runs on PostgreSQL, down to nothing and up again, and
the head matches the models; every text column compares byte by byte, as on
SQLite, though the server's default collation is linguistic; times are read
and hashed in UTC though the server's zone is not UTC; a transaction that
writes holds the one write lock from its first write (no other transaction
may take it until it ends) and asks for it once.
"""

from __future__ import annotations

import datetime as dt
import multiprocessing
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Engine, create_engine, func, inspect, select, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session
from sqlalchemy.schema import CreateTable

from davdrive import audit, db, write_lock
from davdrive.categories import DEFAULT_DOC_TYPES, init_defaults
from davdrive.models import AuditEvent, Base, DocType
from tests.conftest import recorded_statements
from tests.postgres import PostgresServer

_TRY_LOCK = text(f"SELECT pg_try_advisory_xact_lock({write_lock.PG_KEY})")


@pytest.fixture
def engine(postgresql_url: str) -> Iterator[Engine]:
    """davdrive's engine on a fresh migrated database."""
    made = db.make_engine(postgresql_url, threads=2)
    yield made
    made.dispose()


@pytest.fixture
def plain(postgresql_url: str) -> Iterator[Engine]:
    """A plain SQLAlchemy engine on the same database: the server's own zone and
    settings, nothing of davdrive's."""
    made = create_engine(postgresql_url)
    yield made
    made.dispose()


def test_migrations_run_down_and_up_and_the_head_matches_the_models(engine: Engine) -> None:
    assert db.current_revision(engine) == db.head_revision()
    command.downgrade(db._alembic_config(engine), "base")
    assert set(inspect(engine).get_table_names()) == {"alembic_version"}
    assert db.migrate(engine) is True
    with engine.connect() as conn:
        assert compare_metadata(MigrationContext.configure(conn), Base.metadata) == []
        # the tree's version is kept by the trigger (migration 0006)
        before = conn.execute(text("SELECT version FROM tree_state")).scalar_one()
        conn.execute(text("INSERT INTO node (name, name_key, kind, protected, min_degree, "
                          "visibility, new_files_private, size, content_type, mtime, "
                          "created_at, updated_at) VALUES ('', '', 'folder', false, 0, "
                          "'shared', false, 0, '', 0, now(), now())"))
        assert conn.execute(text("SELECT version FROM tree_state")).scalar_one() == before + 1


def test_every_text_column_compares_byte_by_byte(engine: Engine, plain: Engine) -> None:
    with plain.connect() as conn:
        default = conn.execute(text("SELECT datlocprovider, daticulocale, datcollate "
                                    "FROM pg_database WHERE datname = current_database()")).one()
        not_binary = conn.execute(text(
            "SELECT table_name || '.' || column_name FROM information_schema.columns "
            "WHERE table_schema = current_schema() AND table_name != 'alembic_version' "
            "AND data_type IN ('text', 'character varying') "
            "AND collation_name IS DISTINCT FROM 'C'")).scalars().all()
    assert default[:2] == ("i", "en-US"), "the test server's default collation is linguistic"
    assert not_binary == []
    node = Base.metadata.tables["node"]  # the models say so too (Alembic does not compare)
    assert 'name_key VARCHAR(255) COLLATE "C"' in str(CreateTable(node).compile(
        dialect=postgresql.dialect()))
    assert "COLLATE" not in str(CreateTable(node).compile(dialect=sqlite.dialect()))
    slugs = ["b", "B", "_z", "a", "é", "Z", "a-b", "a/b", "a0"]
    with db.make_session_factory(engine)() as session:
        session.add_all(DocType(slug=slug, label=slug) for slug in slugs)
        session.commit()
        ordered = session.scalars(select(DocType.slug).order_by(DocType.slug)).all()
        above = session.scalars(select(DocType.slug).where(DocType.slug > "a/")
                                .order_by(DocType.slug)).all()
    assert ordered == sorted(slugs)  # Python compares code points, as SQLite's BINARY
    assert above == [s for s in sorted(slugs) if s > "a/"]


def test_times_are_utc_whatever_the_server_zone(engine: Engine, plain: Engine) -> None:
    with engine.connect() as conn:
        assert conn.execute(text("SHOW timezone")).scalar() == "UTC"
    with plain.connect() as conn:
        assert conn.execute(text("SHOW timezone")).scalar() != "UTC"
    sessions = db.make_session_factory(engine)
    with sessions() as session:
        audit.record(session, user="ann", action="upload", path="/a.txt")
        session.commit()
        stored = session.scalars(select(AuditEvent.time)).one()
    assert stored.utcoffset() == dt.timedelta(0)
    assert abs(stored - dt.datetime.now(dt.UTC)) < dt.timedelta(minutes=1)
    # Read in the server's own zone, the event still verifies: its hash is over UTC.
    with db.make_session_factory(plain)() as session:
        assert session.scalars(select(AuditEvent.time)).one() == stored
        assert audit.check_chain(session).intact


def test_a_transaction_holds_the_write_lock_from_its_first_write(
    engine: Engine, plain: Engine
) -> None:
    sessions = db.make_session_factory(engine)
    with sessions() as session, plain.connect() as other:
        session.scalars(select(DocType)).all()
        assert other.execute(_TRY_LOCK).scalar() is True, "reading takes no lock"
        other.rollback()
        session.add(DocType(slug="minutes", label="Minutes"))
        session.flush()
        assert other.execute(_TRY_LOCK).scalar() is False, "a writer holds the lock"
        other.rollback()
        session.commit()
        assert other.execute(_TRY_LOCK).scalar() is True, "released at commit"
        other.rollback()


def test_the_write_lock_is_asked_once_per_transaction(engine: Engine) -> None:
    sessions = db.make_session_factory(engine)
    with recorded_statements(engine) as seen, sessions() as session:
        write_lock.take_write_lock(session, "drive")
        session.add(DocType(slug="minutes", label="Minutes"))
        session.flush()
        write_lock.take_write_lock(session, "again")
        audit.record(session, user="ann", action="doc type", detail="minutes")
        session.commit()
        audit.record(session, user="ann", action="doc type", detail="a new transaction")
        session.commit()
    assert seen.count(write_lock.PG_LOCK_SQL) == 2
    assert seen[0] == write_lock.PG_LOCK_SQL


def _migrate(url: str, start: Any) -> None:
    """In a child process: migrate the database at ``url`` once every process is ready."""
    engine = db.make_engine(url, threads=1)
    start.wait(60)
    db.migrate(engine)
    engine.dispose()


def test_processes_started_at_once_migrate_an_empty_database_once(
    postgres_server: PostgresServer,
) -> None:
    """Several server processes started together on a new database: each runs the
    migrations, one after the other (the write lock), and the later ones find the
    schema at head."""
    name = "migrated_at_once"
    postgres_server.admin(f'CREATE DATABASE "{name}"')
    try:
        url = postgres_server.url(name)
        context = multiprocessing.get_context("spawn")
        start = context.Barrier(3)
        children = [context.Process(target=_migrate, args=(url, start)) for _ in range(3)]
        for child in children:
            child.start()
        for child in children:
            child.join(120)
        assert [child.exitcode for child in children] == [0, 0, 0]
        engine = db.make_engine(url, threads=1)
        assert db.current_revision(engine) == db.head_revision()
        engine.dispose()
    finally:
        postgres_server.drop(name)


def test_init_on_two_hosts_at_once_creates_the_defaults_once(engine: Engine) -> None:
    """``davdrive init`` run by two hosts on one new database: the second waits for the
    first's commit, then finds the defaults there and creates nothing (no duplicate
    key error)."""
    first = Session(engine)
    assert init_defaults(first)  # not committed yet
    outcome: list[object] = []

    def second_init() -> None:
        with Session(engine) as second:
            try:
                outcome.append(init_defaults(second))
                second.commit()
            except Exception as exc:  # noqa: BLE001 - reported by the assertion below
                outcome.append(exc)

    thread = threading.Thread(target=second_init)
    thread.start()
    thread.join(0.5)  # the second runs while the first has not committed
    first.commit()
    first.close()
    thread.join(30)
    assert outcome == [[]]
    with Session(engine) as session:
        assert session.scalar(select(func.count()).select_from(DocType)) == len(
            DEFAULT_DOC_TYPES)
