"""indexes on the columns that refer to a blob: node, node_version, attachment

The garbage collection (davdrive.blob_gc) asks, for each blob, whether any
row still refers to it: one index search per table instead of a scan.

Revision ID: 0011
Revises: 0008
Create Date: 2026-12-01 10:00:00

"""
from collections.abc import Sequence

from alembic import op

revision: str = '0011'
down_revision: str | Sequence[str] | None = '0008'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_TABLES = ('node', 'node_version', 'attachment')


def upgrade() -> None:
    for table in _TABLES:
        op.create_index(f'ix_{table}_blob_sha256', table, ['blob_sha256'], unique=False)


def downgrade() -> None:
    for table in reversed(_TABLES):
        op.drop_index(f'ix_{table}_blob_sha256', table_name=table)
