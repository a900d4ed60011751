"""Engine, session factory and schema migrations.

SQLite (the embedded default) runs in WAL mode with foreign keys on and a
busy timeout, so several threads and processes share it safely. PostgreSQL
(``postgresql+psycopg://...``) gets the same single writer at a time
(``davdrive.write_lock.install``), and its sessions run in UTC. The schema is
owned by Alembic: ``migrate`` brings any database, new or old, to head.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, create_engine, event, make_url
from sqlalchemy.orm import ORMExecuteState, Session, SessionTransaction, sessionmaker

from davdrive import write_lock
from davdrive.write_lock import BUSY_WAIT_MS

MIGRATIONS_DIR = Path(__file__).with_name("migrations")


def pool_options(threads: int) -> dict[str, int]:
    """Connection-pool sizes for a server with ``threads`` worker threads.

    A request holds at most two connections at once (its own session and a
    short lock-storage session), so the pool keeps one per thread and may
    open as many again: a busy server waits for SQL, never for a connection.
    """
    threads = max(1, threads)
    return {"pool_size": threads, "max_overflow": threads}


def make_engine(url: str, threads: int = 16) -> Engine:
    """Create an engine sized for ``threads``; SQLite gets WAL, foreign keys, a busy timeout."""
    # LIFO: the connection given back last (its SQLite page cache warm) serves next.
    pool: dict[str, Any] = {**pool_options(threads), "pool_use_lifo": True}
    if url.startswith("sqlite"):
        if _in_memory(url):  # one shared connection (SingletonThreadPool): no sizes
            pool = {}
        engine = create_engine(
            url, connect_args={"check_same_thread": False, "timeout": 30}, **pool
        )

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA synchronous=FULL")  # a 201 survives a power cut
            cur.execute(f"PRAGMA busy_timeout={BUSY_WAIT_MS}")
            cur.close()

        return engine
    if make_url(url).get_backend_name() == "postgresql":
        # Times come back in UTC, as SQLite keeps them, whatever the server's zone.
        pool["connect_args"] = {"options": "-c timezone=UTC"}
    engine = create_engine(url, pool_pre_ping=True, **pool)
    write_lock.install(engine)  # PostgreSQL: one writer at a time, as SQLite
    return engine


def _in_memory(url: str) -> bool:
    return url.rstrip("/") in ("sqlite:", "sqlite+pysqlite:") or ":memory:" in url


_WROTE = "davdrive.wrote"  # session.info key: the open transaction has written
# session.info key: a callable run when the session begins a transaction, before it
# takes a pooled connection.
ON_BEGIN = "davdrive.on_begin"


def make_session_factory(engine: Engine) -> sessionmaker[Session]:
    """Sessions that keep loaded values after commit and know whether they wrote."""
    factory = sessionmaker(engine, expire_on_commit=False)
    event.listen(factory, "after_flush", _mark_wrote)
    event.listen(factory, "do_orm_execute", _mark_wrote_if_not_select)
    event.listen(factory, "after_transaction_end", _clear_wrote)
    event.listen(factory, "after_transaction_create", _on_begin)
    return factory


def _on_begin(session: Session, transaction: SessionTransaction) -> None:
    """Runs as the session begins (before it takes a pooled connection)."""
    callback = session.info.get(ON_BEGIN) if transaction.parent is None else None
    if callback is not None:
        callback()


def _mark_wrote(session: Session, _context: Any) -> None:
    mark_written(session)


def _mark_wrote_if_not_select(state: ORMExecuteState) -> None:
    if not state.is_select:
        state.session.info[_WROTE] = True


def _clear_wrote(session: Session, transaction: SessionTransaction) -> None:
    if transaction.parent is None:
        session.info.pop(_WROTE, None)


def mark_written(session: Session) -> None:
    """Count ``session``'s open transaction as having written (for writes it ran on
    its connection, which the session does not see)."""
    session.info[_WROTE] = True


def has_written(session: Session) -> bool:
    """True when ``session``'s open transaction has written (flushed or not)."""
    return bool(session.info.get(_WROTE) or session.new or session.dirty or session.deleted)


def release_connection(session: Session) -> None:
    """End ``session``'s transaction so its pooled connection goes back now.

    For use before slow work that needs no SQL (receiving or sending a body,
    argon2). Loaded objects stay usable (sessions are made with
    ``expire_on_commit=False``); the next query opens a new transaction.
    A transaction that has written anything (flushed or not) is left alone:
    releasing never decides whether writes are kept.
    """
    if not session.in_transaction():
        return
    if has_written(session):
        return
    session.commit()


def _alembic_config(engine: Engine) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    cfg.attributes["engine"] = engine
    return cfg


def head_revision() -> str:
    script = ScriptDirectory.from_config(_alembic_config(create_engine("sqlite://")))
    head = script.get_current_head()
    assert head is not None
    return head


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def migrate(engine: Engine) -> bool:
    """Upgrade the schema to head. Returns True when something was applied."""
    if current_revision(engine) == head_revision():
        return False
    command.upgrade(_alembic_config(engine), "head")
    return True
