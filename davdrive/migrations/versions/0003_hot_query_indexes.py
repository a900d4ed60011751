"""indexes for the hot queries: node doc type, folder rights by category

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-30 09:45:00

"""
from collections.abc import Sequence

from alembic import op

revision: str = '0003'
down_revision: str | Sequence[str] | None = '0002'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('node', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_node_doc_type'), ['doc_type'], unique=False)
    with op.batch_alter_table('folder_right', schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f('ix_folder_right_category_id'), ['category_id'], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table('folder_right', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_folder_right_category_id'))
    with op.batch_alter_table('node', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_node_doc_type'))
