"""the tree's version: one counter the database bumps on every change of a node

A server process may then keep what it decided about a path (the read fast
path's readable files, davdrive.readable_files) while the counter it read
with the signed-in account stays the same. Triggers, not the application,
bump it: a change made by the command line, another process or SQL typed by
hand is seen as surely as one made through the server.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-30 19:10:00

"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0006'
down_revision: str | Sequence[str] | None = '0005'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_SQLITE_EVENTS = ("insert", "update", "delete")
_BUMP = "UPDATE tree_state SET version = version + 1"


def upgrade() -> None:
    op.create_table(
        'tree_state',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('version', sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_tree_state')),
    )
    op.execute("INSERT INTO tree_state (id, version) VALUES (1, 0)")
    if op.get_bind().dialect.name == "postgresql":
        # Once per statement: a folder moved to the trash with its subtree bumps once.
        op.execute(
            "CREATE FUNCTION davdrive_tree_changed() RETURNS trigger LANGUAGE plpgsql AS "
            f"$$ BEGIN {_BUMP}; RETURN NULL; END $$"
        )
        op.execute(
            "CREATE TRIGGER node_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE "
            "ON node FOR EACH STATEMENT EXECUTE FUNCTION davdrive_tree_changed()"
        )
        return
    for event in _SQLITE_EVENTS:  # SQLite triggers run per row
        op.execute(
            f"CREATE TRIGGER node_{event}_bumps_tree AFTER {event.upper()} ON node "
            f"BEGIN {_BUMP}; END"
        )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER node_changed ON node")
        op.execute("DROP FUNCTION davdrive_tree_changed()")
    else:
        for event in _SQLITE_EVENTS:
            op.execute(f"DROP TRIGGER node_{event}_bumps_tree")
    op.drop_table('tree_state')
