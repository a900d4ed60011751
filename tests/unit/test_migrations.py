"""The Alembic history builds exactly the models' schema, and old databases upgrade."""

from __future__ import annotations

from pathlib import Path

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect, text

from davdrive import db
from davdrive.models import Base


def test_migrations_at_head_match_the_models(tmp_path: Path) -> None:
    engine = db.make_engine(f"sqlite:///{tmp_path / 'x.sqlite3'}")
    assert db.migrate(engine) is True
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    assert diff == [], f"models and migrations differ: {diff}"
    assert db.current_revision(engine) == db.head_revision()


def test_migrate_is_idempotent_and_upgrades_an_old_database(tmp_path: Path) -> None:
    engine = db.make_engine(f"sqlite:///{tmp_path / 'old.sqlite3'}")
    db.migrate(engine)
    assert db.migrate(engine) is False  # already at head: nothing applied
    # Simulate a database from before any migration: stamp it back to nothing.
    Base.metadata.drop_all(engine)
    with engine.begin() as conn:
        conn.execute(text("DROP TABLE alembic_version"))
    assert db.current_revision(engine) is None
    assert db.migrate(engine) is True
    assert db.current_revision(engine) == db.head_revision()
    assert "node" in inspect(engine).get_table_names()


def test_sqlite_runs_in_wal_mode_with_foreign_keys(tmp_path: Path) -> None:
    engine = db.make_engine(f"sqlite:///{tmp_path / 'w.sqlite3'}")
    with engine.connect() as conn:
        assert conn.execute(text("PRAGMA journal_mode")).scalar() == "wal"
        assert conn.execute(text("PRAGMA foreign_keys")).scalar() == 1


def test_0005_keeps_blob_rows_and_their_references(tmp_path: Path) -> None:
    """A 0004 database with a blob referred to by a blob_inline row upgrades to 0005
    (blob.sha1/md5 may be NULL: checksums on demand): the rows and their reference
    survive SQLite's table rebuild, a blob without checksums can then be stored, and
    foreign keys are enforced again afterwards."""
    from alembic import command

    engine = db.make_engine(f"sqlite:///{tmp_path / 'v4.sqlite3'}")
    command.upgrade(db._alembic_config(engine), "0004")
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO blob (sha256, sha1, md5, size, created_at) "
                          "VALUES ('a', 'b', 'c', 3, '2026-01-01 00:00:00')"))
        conn.execute(text("INSERT INTO blob_inline (sha256, data) VALUES ('a', x'616263')"))
    assert db.migrate(engine) is True
    with engine.begin() as conn:
        assert conn.execute(text("SELECT sha256, sha1, md5, size FROM blob")).all() == [
            ("a", "b", "c", 3)]
        assert conn.execute(text("SELECT sha256 FROM blob_inline")).all() == [("a",)]
        assert conn.execute(text("PRAGMA foreign_key_check")).all() == []
        conn.execute(text("INSERT INTO blob (sha256, size, created_at) "
                          "VALUES ('d', 0, '2026-01-01 00:00:00')"))
    with engine.connect() as conn:
        assert conn.execute(text("PRAGMA foreign_keys")).scalar() == 1


def test_0006_the_database_bumps_the_tree_version_on_every_node_change(
    tmp_path: Path,
) -> None:
    """Migration 0006: any INSERT, UPDATE or DELETE of a node row, typed in SQL by
    anyone, adds one to tree_state.version (per row in SQLite); other tables do
    not; the downgrade removes the triggers and the table."""
    from alembic import command

    engine = db.make_engine(f"sqlite:///{tmp_path / 'v6.sqlite3'}")
    db.migrate(engine)

    def version() -> int:
        with engine.connect() as conn:
            return int(conn.execute(text("SELECT version FROM tree_state WHERE id = 1")).one()[0])

    node = ("INSERT INTO node (parent_id, name, name_key, kind, visibility, "
            "new_files_private, min_degree, protected, size, content_type, mtime, "
            "created_at, updated_at) VALUES ({parent}, '{name}', '{name}', 'folder', "
            "'shared', 0, 0, 0, 0, '', 0, '2026-01-01 00:00:00', '2026-01-01 00:00:00')")
    assert version() == 0
    with engine.begin() as conn:
        conn.execute(text(node.format(parent="NULL", name="")))
    assert version() == 1
    with engine.begin() as conn:
        conn.execute(text(node.format(parent=1, name="a")))
        conn.execute(text(node.format(parent=1, name="b")))
    assert version() == 3
    with engine.begin() as conn:
        conn.execute(text("UPDATE node SET visibility = 'private' WHERE parent_id = 1"))
    assert version() == 5  # two rows changed
    with engine.begin() as conn:
        conn.execute(text("DELETE FROM node WHERE name = 'b'"))
        conn.execute(text("INSERT INTO doc_type (slug, label) VALUES ('x', 'x')"))
    assert version() == 6  # the doc type is not a node
    command.downgrade(db._alembic_config(engine), "0005")
    assert "tree_state" not in inspect(engine).get_table_names()
    with engine.begin() as conn:
        assert conn.execute(text("SELECT count(*) FROM sqlite_master WHERE type = 'trigger'")
                            ).scalar() == 0
        conn.execute(text("DELETE FROM node WHERE name = 'a'"))  # no trigger left to fail


def test_0007_clears_doc_types_copied_from_the_folder_and_keeps_the_effective_ones(
    tmp_path: Path,
) -> None:
    """Migration 0007: doc types are inherited, not copied. A node whose doc type
    equals its parent's own column (what earlier releases copied into every new
    item) stores none afterwards, a chain of such copies included; a doc type
    differing from the parent's, one under an untyped folder and the folder's own
    are kept. The effective doc type of every node (its own, else the nearest
    ancestor's) is the same before and after."""
    from alembic import command

    engine = db.make_engine(f"sqlite:///{tmp_path / 'v6.sqlite3'}")
    command.upgrade(db._alembic_config(engine), "0006")
    # (id, parent id, doc type)
    rows = [
        (1, None, None),          # the root
        (2, 1, "minutes"),        # a typed folder: its own type
        (3, 2, "minutes"),        # a file copied the folder's type
        (4, 2, "treasury"),       # a file typed otherwise
        (5, 2, "minutes"),        # a sub-folder copied it...
        (6, 5, "minutes"),        # ...and so did a file in it
        (7, 1, "minutes"),        # typed under the untyped root
        (8, 4, "treasury"),       # (a child of the treasury file, as a chain would be)
        (9, 2, None),             # already inheriting
    ]
    insert = text(
        "INSERT INTO node (id, parent_id, name, name_key, kind, doc_type, visibility, "
        "new_files_private, min_degree, protected, size, content_type, mtime, created_at, "
        "updated_at) VALUES (:id, :parent, :name, :name, 'folder', :doc_type, 'shared', 0, 0, "
        "0, 0, '', 0, '2026-01-01 00:00:00', '2026-01-01 00:00:00')"
    )
    with engine.begin() as conn:
        for node_id, parent, doc_type in rows:
            conn.execute(insert, {"id": node_id, "parent": parent, "name": f"n{node_id}",
                                  "doc_type": doc_type})

    def stored() -> dict[int, tuple[int | None, str | None]]:
        with engine.connect() as conn:
            return {i: (p, t) for i, p, t in conn.execute(
                text("SELECT id, parent_id, doc_type FROM node"))}

    def effective(nodes: dict[int, tuple[int | None, str | None]]) -> dict[int, str | None]:
        def of(node_id: int | None) -> str | None:
            while node_id is not None:
                parent, doc_type = nodes[node_id]
                if doc_type is not None:
                    return doc_type
                node_id = parent
            return None
        return {node_id: of(node_id) for node_id in nodes}

    before = stored()
    command.upgrade(db._alembic_config(engine), "0007")
    after = stored()
    assert {i: t for i, (_, t) in after.items()} == {
        1: None, 2: "minutes", 3: None, 4: "treasury", 5: None, 6: None, 7: "minutes",
        8: None, 9: None}
    assert effective(after) == effective(before)
    command.downgrade(db._alembic_config(engine), "0006")  # nothing to undo
    assert stored() == after
    assert db.migrate(engine) is True  # up to head again: nothing more to clear
    assert stored() == after
