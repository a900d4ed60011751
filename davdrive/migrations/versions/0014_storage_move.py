"""The marker of an unfinished storage move (davdrive migrate-storage)

One row at most, in the database a move copies into, while the move runs:
the source it copies and how far it got, so that a move run again after an
interruption resumes instead of refusing a target that is not empty. Nothing
to migrate: no move is under way in a database made before.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-02 10:00:00

"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0014'
down_revision: str | Sequence[str] | None = '0013'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _binary(kind: sa.String) -> sa.types.TypeEngine[str]:
    """Text compared byte by byte on PostgreSQL too (as every text column: 0013)."""
    return kind.with_variant(type(kind)(length=kind.length, collation="C"), "postgresql")


def upgrade() -> None:
    op.create_table(
        'storage_move',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('source', _binary(sa.Text()), nullable=False),
        sa.Column('phase', _binary(sa.String(length=16)), nullable=False),
        sa.Column('blobs_done', sa.Integer(), nullable=False),
        sa.Column('started_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_storage_move')),
    )


def downgrade() -> None:
    op.drop_table('storage_move')
