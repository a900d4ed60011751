"""history filters and traffic counters

The event history is searched by folder (``path`` or ``target_path`` under a
prefix, davdrive.history): both get an index. Connection statistics count the
bytes read and sent per login, day and interface (``bytes_in``, ``bytes_out``,
0 on the rows of earlier releases), and are summed over a range of days
(``day`` indexed).

Revision ID: 0012
Revises: 0008
Create Date: 2026-12-01 10:00:00

"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0012'
down_revision: str | Sequence[str] | None = '0008'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column('login_stat', sa.Column('bytes_in', sa.BigInteger(), nullable=False,
                                          server_default=sa.text('0')))
    op.add_column('login_stat', sa.Column('bytes_out', sa.BigInteger(), nullable=False,
                                          server_default=sa.text('0')))
    op.create_index(op.f('ix_login_stat_day'), 'login_stat', ['day'])
    op.create_index(op.f('ix_audit_event_path'), 'audit_event', ['path'])
    op.create_index(op.f('ix_audit_event_target_path'), 'audit_event', ['target_path'])


def downgrade() -> None:
    op.drop_index(op.f('ix_audit_event_target_path'), table_name='audit_event')
    op.drop_index(op.f('ix_audit_event_path'), table_name='audit_event')
    op.drop_index(op.f('ix_login_stat_day'), table_name='login_stat')
    with op.batch_alter_table('login_stat') as batch_op:
        batch_op.drop_column('bytes_out')
        batch_op.drop_column('bytes_in')
