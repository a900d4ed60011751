"""Shared fixtures: a data folder, an in-process app, a live cheroot server.

Passwords use cheap argon2 parameters here (the production defaults cost
about 100 ms per hash); everything else is the real thing.

``--database=postgresql`` puts the ``settings`` fixture's metadata in a real
PostgreSQL server started once for the session (tests/postgres.py), with a
fresh database per test; the default is SQLite in the test's data folder.
"""

from __future__ import annotations

import base64
import os
import re
import shutil
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import NoReturn, TypeVar

import pytest
from sqlalchemy import Engine, event
from sqlalchemy.orm import Session
from werkzeug.test import Client

from davdrive import accounts, db, inline_blobs, tree, write_lock
from davdrive.models import Category, FolderRight, Node, User
from davdrive.passwords import Passwords
from davdrive.runtime import Runtime, open_runtime
from davdrive.serve_command import make_server
from davdrive.server import DriveApp, create_app
from davdrive.services import Drive
from davdrive.settings import Settings, load_settings
from provider.http_server import DriveHTTPServer
from tests.postgres import TEMPLATE, PostgresServer, running_server
from tests.s3 import moto_endpoint, s3_bucket  # noqa: F401 - fixtures (moto's S3 server)

STRICT = os.environ.get("DAVDRIVE_STRICT") == "1"


def unavailable(message: str) -> NoReturn:
    """Something a test needs is missing: a skip normally, a failure under DAVDRIVE_STRICT=1."""
    if STRICT:
        pytest.fail(message + "; DAVDRIVE_STRICT=1 forbids skipping")
    pytest.skip(message)


def require_tool(name: str) -> str:
    """Path of an external tool, or ``unavailable``."""
    path = shutil.which(name)
    if path is None:
        unavailable(f"{name} is not installed (apt-get install {name})")
    return path


class CountingPasswords(Passwords):
    """The real argon2 hasher (``memory_cost`` KiB), counting how often ``verify`` runs."""

    def __init__(self, memory_cost: int = 8) -> None:
        super().__init__(time_cost=1, memory_cost=memory_cost, parallelism=1)
        self.verifications = 0
        self._lock = threading.Lock()

    def verify(self, stored_hash: str | None, password: str) -> bool:
        with self._lock:
            self.verifications += 1
        return super().verify(stored_hash, password)


# The statement that takes the database's write lock (davdrive/write_lock.py), per database.
WRITE_LOCK_STATEMENTS = ("BEGIN IMMEDIATE", write_lock.PG_LOCK_SQL)


def without_write_lock(statements: list[str]) -> list[str]:
    """``statements`` without PostgreSQL's advisory write lock: SQLite takes its lock
    with a transaction's first write, PostgreSQL with a statement before it
    (``davdrive.write_lock.install``); for counts of the writes themselves."""
    return [s for s in statements if s != write_lock.PG_LOCK_SQL]


@contextmanager
def recorded_statements(engine: Engine) -> Iterator[list[str]]:
    """The SQL statements ``engine`` runs inside the block, white space folded."""
    seen: list[str] = []

    def _record(conn, cursor, statement, params, context, executemany):  # type: ignore[no-untyped-def]
        seen.append(re.sub(r"\s+", " ", statement).strip())

    event.listen(engine, "before_cursor_execute", _record)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", _record)


@pytest.fixture
def fast_passwords() -> Passwords:
    return Passwords(time_cost=1, memory_cost=8, parallelism=1)


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--database", choices=("sqlite", "postgresql"), default="sqlite",
        help="metadata database of the settings fixture: SQLite in the data folder "
        "(default) or a PostgreSQL server started for the session",
    )


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """With ``--database=postgresql``, tests marked ``sqlite_only`` are skipped (with
    their reason): they are about SQLite itself."""
    if not on_postgresql(config):
        return
    for item in items:
        marker = item.get_closest_marker("sqlite_only")
        if marker is not None:
            reason = marker.args[0] if marker.args else "about SQLite itself"
            item.add_marker(pytest.mark.skip(reason=f"SQLite only: {reason}"))


def on_postgresql(config: pytest.Config) -> bool:
    """The session runs with ``--database=postgresql``."""
    return bool(config.getoption("--database") == "postgresql")


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """A PostgreSQL server with the migrated template database, started once for the
    session by the first test that asks (``unavailable`` without Debian's binaries)."""
    with running_server() as server:
        server.admin(f'CREATE DATABASE "{TEMPLATE}"')
        engine = db.make_engine(server.url(TEMPLATE), threads=1)
        db.migrate(engine)
        engine.dispose()
        yield server


@pytest.fixture
def postgres(request: pytest.FixtureRequest) -> PostgresServer | None:
    """The session's PostgreSQL server under ``--database=postgresql``, else None."""
    if not on_postgresql(request.config):
        return None
    server: PostgresServer = request.getfixturevalue("postgres_server")
    return server


@pytest.fixture
def postgresql_url(postgres_server: PostgresServer) -> Iterator[str]:
    """A fresh, migrated PostgreSQL database whatever ``--database`` says (for tests of
    PostgreSQL itself); dropped after the test."""
    name = postgres_server.fresh()
    yield postgres_server.url(name)
    postgres_server.drop(name)


@pytest.fixture
def database_url(
    postgres: PostgresServer | None, monkeypatch: pytest.MonkeyPatch
) -> Iterator[str]:
    """``database.url`` for the test: "" (SQLite in the data folder) or a new
    PostgreSQL database, dropped after the test. On PostgreSQL it is also
    ``DAVDRIVE_DATABASE_URL`` for the test, so that the command line run in the test
    (or in a process it starts) opens the same database."""
    if postgres is None:
        yield ""
        return
    name = postgres.fresh()
    url = postgres.url(name)
    monkeypatch.setenv("DAVDRIVE_DATABASE_URL", url)
    yield url
    postgres.drop(name)


@pytest.fixture
def settings(tmp_path: Path, database_url: str) -> Settings:
    return load_settings(None, {}, {
        "data_dir": str(tmp_path / "data"), "server.port": 0, "database.url": database_url,
    })


def files_only_settings(tmp_path: Path) -> Settings:
    """Every upload as a blob file (``storage.inline_blob_bytes = 0``): for rules about
    files in the store; content kept in the database has its own tests
    (tests/unit/test_inline_blobs.py)."""
    return load_settings(None, {}, {
        "data_dir": str(tmp_path / "data"), "server.port": 0, "storage.inline_blob_bytes": 0,
    })


@pytest.fixture
def runtime(settings: Settings, fast_passwords: Passwords) -> Iterator[Runtime]:
    rt = open_runtime(settings, fast_passwords)
    with rt.sessions() as session:
        tree.get_root(session)
        session.commit()
    yield rt
    rt.close()


def add_user(
    runtime: Runtime,
    login: str,
    password: str = "secret",
    *,
    documents: str = "write",
    category: str | None = None,
    root_right: str | None = None,
    **user_fields: object,
) -> None:
    """Create a user (and its category, named after the documents level if needed).

    A new category gets a folder right on the root: ``root_right``, by default
    the one matching its documents level (read -> read, write -> write,
    admin -> manage, none -> none).
    """
    slug = category or f"docs-{documents}"
    with runtime.sessions() as session:
        cat = session.query(Category).filter_by(slug=slug).first()
        if cat is None:
            cat = Category(slug=slug, label=slug, documents=documents, excluded_doc_types=[])
            session.add(cat)
            session.flush()
            level = root_right or {"admin": "manage"}.get(documents, documents)
            session.add(
                FolderRight(folder_id=tree.get_root(session).id, category_id=cat.id, level=level)
            )
            session.flush()
        session.add(
            User(
                login=login,
                login_key=login.casefold(),
                category_id=cat.id,
                password_hash=runtime.passwords.hash(password),
                **user_fields,
            )
        )
        session.commit()


@pytest.fixture
def session(runtime: Runtime) -> Iterator[Session]:
    """A session on a drive with the default categories and doc types of ``init``."""
    with runtime.sessions() as session:
        accounts.init_defaults(session)
        session.commit()
        yield session


def put_file(drive: Drive, folder: Node, name: str, data: bytes) -> Node:
    """Store a file through the drive's upload path (as ``drive``'s actor)."""
    upload = drive.begin_upload(folder, name, None)
    upload.writer.write(data)
    return drive.finish_upload(upload)


def stored_bytes(runtime: Runtime, sha256: str, size: int) -> bytes:
    """The content of blob ``sha256`` wherever the drive keeps it (the blob store, or
    the database for small content: ``davdrive.inline_blobs``)."""
    with runtime.sessions() as session, inline_blobs.open_blob(
        session, runtime.blobs, sha256
    ) as stream:
        return stream.read()


@pytest.fixture
def app(settings: Settings, runtime: Runtime) -> DriveApp:
    add_user(runtime, "tester", "secret", documents="write")
    return create_app(settings, runtime)


def basic(login: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{login}:{password}".encode()).decode()


@dataclass
class Dav:
    """Tiny in-process WebDAV client over the WSGI app."""

    client: Client
    auth: str = basic("tester", "secret")

    def __call__(self, method: str, path: str, body: bytes | str = b"", **headers: str):  # type: ignore[no-untyped-def]
        hdrs = {"Authorization": self.auth}
        hdrs.update({k.replace("_", "-"): v for k, v in headers.items()})
        data = body.encode() if isinstance(body, str) else body
        return self.client.open(path, method=method, data=data, headers=hdrs, buffered=True)


@pytest.fixture
def dav(app: DriveApp) -> Dav:
    return Dav(Client(app))


@dataclass
class LiveServer:
    url: str
    port: int
    app: DriveApp


ServerT = TypeVar("ServerT", bound=DriveHTTPServer)


@contextmanager
def running(server: ServerT) -> Iterator[ServerT]:
    """``server`` prepared (bound) and serving in a thread for the block, then stopped."""
    server.prepare()
    thread = threading.Thread(target=server.serve, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.stop()
        thread.join(timeout=5)


@contextmanager
def serving(app: DriveApp) -> Iterator[LiveServer]:
    """Run ``make_server(app)`` on a free loopback port, in a thread, for the block."""
    with running(make_server(app)) as server:
        port = server.bind_addr[1]
        yield LiveServer(f"http://127.0.0.1:{port}", port, app)


@pytest.fixture
def live(app: DriveApp) -> Iterator[LiveServer]:
    """The real cheroot server on a free loopback port, in a thread."""
    with serving(app) as server:
        yield server
