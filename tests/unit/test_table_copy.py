"""The table copier (davdrive/table_copy.py): every row of every table, keys kept, into
another database (SQLite or PostgreSQL), whatever order parents and children have;
the digests agree across databases and see a changed value."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from sqlalchemy import Engine, insert, select, text, update

from davdrive import db, table_copy, tree
from davdrive.models import Node, TreeState
from davdrive.policy import SYSTEM
from davdrive.runtime import Runtime
from davdrive.services import Drive
from tests.conftest import put_file


def a_tree_with_a_parent_newer_than_its_child(runtime: Runtime) -> None:
    with runtime.sessions() as session:
        drive = Drive(session, runtime.blobs, SYSTEM, runtime.drive_options)
        root = tree.get_root(session)
        older = drive.make_folder(root, "older")
        put_file(drive, older, "note.txt", b"kept in the database")
        newer = drive.make_folder(root, "newer")
        drive.move(older, newer, "older", None)  # node 'older' now under a larger id
        session.commit()
        assert older.parent_id == newer.id and newer.id > older.id


def copied_into(runtime: Runtime, target: Engine) -> dict[str, table_copy.TableDigest]:
    with runtime.engine.connect() as source, target.begin() as conn:
        digests = table_copy.copy_tables(source, conn)
        table_copy.reset_sequences(conn)
    return digests


def test_a_drive_copies_into_sqlite_with_equal_digests(runtime: Runtime, tmp_path: Path) -> None:
    a_tree_with_a_parent_newer_than_its_child(runtime)
    target = db.make_engine(f"sqlite:///{tmp_path / 'copy.sqlite3'}", threads=1)
    db.migrate(target)
    digests = copied_into(runtime, target)
    with target.connect() as conn:
        assert table_copy.differences(digests, table_copy.digest_tables(conn)) == []
        version = conn.execute(select(TreeState.version)).scalar_one()
    with runtime.engine.connect() as conn:  # the triggers' bumps did not stay
        assert version == conn.execute(select(TreeState.version)).scalar_one()
    assert digests["node"].rows == 4
    with target.begin() as conn:  # a changed value changes the digest (and the version)
        conn.execute(update(Node).where(Node.name == "newer").values(mtime=1.5))
    with target.connect() as conn:
        changed = table_copy.differences(digests, table_copy.digest_tables(conn))
    assert [line.split(":")[0] for line in changed] == ["table node", "table tree_state"]
    target.dispose()


def test_a_drive_copies_into_postgresql_and_back(
    runtime: Runtime, postgresql_url: str, tmp_path: Path
) -> None:
    a_tree_with_a_parent_newer_than_its_child(runtime)
    target = db.make_engine(postgresql_url, threads=1)
    digests = copied_into(runtime, target)
    with target.connect() as conn:
        assert table_copy.differences(digests, table_copy.digest_tables(conn)) == []
    with target.begin() as conn:  # new rows take keys past the copied ones
        made = conn.execute(insert(Node).values(
            name="x", name_key="x", kind="folder", mtime=0.0,
            created_at=dt.datetime.now(dt.UTC), updated_at=dt.datetime.now(dt.UTC),
        ).returning(Node.id)).scalar_one()
        assert made == digests["node"].rows + 1
        conn.execute(text("DELETE FROM node WHERE id = :id"), {"id": made})
        conn.execute(update(TreeState).values(
            version=select(TreeState.version).scalar_subquery() - 2))
    back = db.make_engine(f"sqlite:///{tmp_path / 'back.sqlite3'}", threads=1)
    db.migrate(back)
    with target.connect() as source, back.begin() as conn:
        again = table_copy.copy_tables(source, conn)
    assert table_copy.differences(digests, again) == []
    back.dispose()
    target.dispose()
