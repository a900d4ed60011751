"""Counters of failed sign-ins, for throttling

One row per source address and login (login '' for the whole address), with
its window's first failure and the failures since; shared by every server
process. Nothing to migrate: counting starts empty.

Revision ID: 0009
Revises: 0012
Create Date: 2026-12-01 09:00:00

"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0009'
down_revision: str | Sequence[str] | None = '0012'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        'signin_failures',
        sa.Column('source', sa.String(length=64), nullable=False),
        sa.Column('login', sa.String(length=150), nullable=False),
        sa.Column('window_start', sa.DateTime(timezone=True), nullable=False),
        sa.Column('failures', sa.Integer(), nullable=False),
        sa.Column('noted', sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint('source', 'login', name=op.f('pk_signin_failures')),
    )
    op.create_index(op.f('ix_signin_failures_window_start'), 'signin_failures',
                    ['window_start'])


def downgrade() -> None:
    op.drop_index(op.f('ix_signin_failures_window_start'), table_name='signin_failures')
    op.drop_table('signin_failures')
