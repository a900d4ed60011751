"""doc types are inherited, not copied: clear the copies made by earlier releases

An item created in a folder used to take the folder's doc type into its own
column, so a later retype of the folder left what it already held with the
old type. An item now stores no doc type of its own and inherits the folder's
(the effective doc type is the node's own, else the nearest ancestor's); only
a move or copy out of the folder gives it one. A node whose doc type equals
its parent's own column is almost surely such a copy and is cleared: its
effective doc type stays the same (the nearest typed ancestor then has that
same type), so nobody sees more or less than before.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-30 20:40:00

"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0007'
down_revision: str | Sequence[str] | None = '0006'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Ids per UPDATE: well under SQLite's limit of bound parameters per statement.
_BATCH = 500

_node = sa.table(
    'node',
    sa.column('id', sa.Integer()),
    sa.column('parent_id', sa.Integer()),
    sa.column('doc_type', sa.String(length=64)),
)


def upgrade() -> None:
    bind = op.get_bind()
    folder = _node.alias('folder')
    # Every id first, on the state before any change: clearing a node must not
    # decide whether its children are copies (a chain of equal types is cleared
    # down from its top, which keeps the type).
    copied = bind.execute(
        sa.select(_node.c.id)
        .join(folder, folder.c.id == _node.c.parent_id)
        .where(_node.c.doc_type.is_not(None), _node.c.doc_type == folder.c.doc_type)
        .order_by(_node.c.id)
    ).scalars().all()
    for start in range(0, len(copied), _BATCH):
        bind.execute(
            sa.update(_node)
            .where(_node.c.id.in_(copied[start:start + _BATCH]))
            .values(doc_type=None)
        )


def downgrade() -> None:
    """Nothing to undo: whether a doc type had been copied from the folder cannot be
    told afterwards, and every node's effective doc type is the same with or
    without the cleared copies, so the older release decides exactly as before."""
