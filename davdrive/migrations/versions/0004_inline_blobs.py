"""small blobs kept in the database: one commit makes content and row durable

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-30 10:55:00

"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0004'
down_revision: str | Sequence[str] | None = '0003'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        'blob_inline',
        sa.Column('sha256', sa.String(length=64), nullable=False),
        sa.Column('data', sa.LargeBinary(), nullable=False),
        sa.ForeignKeyConstraint(['sha256'], ['blob.sha256'],
                                name=op.f('fk_blob_inline_sha256_blob')),
        sa.PrimaryKeyConstraint('sha256', name=op.f('pk_blob_inline')),
    )


def downgrade() -> None:
    op.drop_table('blob_inline')
