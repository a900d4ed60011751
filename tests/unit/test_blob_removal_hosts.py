"""Backups and blob removal exclude each other across hosts on PostgreSQL.

Rule (davdrive/blob_removal.py): each host has its own data folder, so its
lock file says nothing to the others; on PostgreSQL the database's advisory
lock does. While a backup on one host keeps the blobs, a collection on another
host removes nothing; while a collection on one host holds removal (until its
transaction ends), a backup on another waits for it to commit.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from davdrive import db
from davdrive.blob_removal import keeping_blobs, removal_allowed


@pytest.fixture
def engine(postgresql_url: str) -> Iterator[Engine]:
    engine = db.make_engine(postgresql_url)
    yield engine
    engine.dispose()


@pytest.fixture
def hosts(tmp_path: Path) -> tuple[Path, Path]:
    a, b = tmp_path / "host-a", tmp_path / "host-b"
    a.mkdir()
    b.mkdir()
    return a, b


def test_a_backup_on_one_host_stops_removal_on_another(
    engine: Engine, hosts: tuple[Path, Path]
) -> None:
    a, b = hosts
    with keeping_blobs(b, engine), Session(engine) as session:
        assert removal_allowed(session, a) is False
        session.rollback()
    with Session(engine) as session:
        assert removal_allowed(session, a) is True
        session.rollback()


def test_a_backup_on_another_host_waits_for_a_collection_to_commit(
    engine: Engine, hosts: tuple[Path, Path]
) -> None:
    a, b = hosts
    entered = threading.Event()
    release = threading.Event()

    def backup() -> None:
        with keeping_blobs(b, engine):
            entered.set()
            release.wait(10)

    with Session(engine) as session:
        assert removal_allowed(session, a) is True
        thread = threading.Thread(target=backup)
        thread.start()
        assert not entered.wait(0.5), "the backup began while blobs could still be removed"
        session.commit()
    assert entered.wait(10)
    with Session(engine) as other:  # removal waits for that backup in turn
        assert removal_allowed(other, a) is False
        other.rollback()
    release.set()
    thread.join(10)
