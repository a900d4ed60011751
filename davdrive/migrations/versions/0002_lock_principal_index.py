"""index locks by principal (per-user lock limit)

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-30 08:00:00

"""
from collections.abc import Sequence

from alembic import op

revision: str = '0002'
down_revision: str | Sequence[str] | None = '0001'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('dav_lock', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_dav_lock_principal'), ['principal'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('dav_lock', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_dav_lock_principal'))
