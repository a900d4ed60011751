"""history filters and traffic counters

The event history is searched by folder (``path`` or ``target_path`` under a
prefix, davdrive.history): both get an index, partial (only the events that
have one: the others, and every event's write, pay nothing for it). Connection statistics count the
bytes read and sent per login, day and interface (``bytes_in``, ``bytes_out``,
0 on the rows of earlier releases), and are summed over a range of days
(``day`` indexed).

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-01 10:00:00

"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0012'
down_revision: str | Sequence[str] | None = '0011'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column('login_stat', sa.Column('bytes_in', sa.BigInteger(), nullable=False,
                                          server_default=sa.text('0')))
    op.add_column('login_stat', sa.Column('bytes_out', sa.BigInteger(), nullable=False,
                                          server_default=sa.text('0')))
    op.create_index(op.f('ix_login_stat_day'), 'login_stat', ['day'])
    for column in ('path', 'target_path'):
        where = sa.text(f"{column} != ''")
        op.create_index(f'ix_audit_event_{column}', 'audit_event', [column],
                        sqlite_where=where, postgresql_where=where)


def downgrade() -> None:
    op.drop_index('ix_audit_event_target_path', table_name='audit_event')
    op.drop_index('ix_audit_event_path', table_name='audit_event')
    op.drop_index(op.f('ix_login_stat_day'), table_name='login_stat')
    with op.batch_alter_table('login_stat') as batch_op:
        batch_op.drop_column('bytes_out')
        batch_op.drop_column('bytes_in')
