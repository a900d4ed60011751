"""ownCloud checksums computed on demand: blob.sha1 and blob.md5 may be empty

An upload computes only its sha256 (the content address); sha1 and md5 are
computed from the stored content when first shown (davdrive.checksums), or
while receiving when the client sent an OC-Checksum of that algorithm.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-30 11:45:00

"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0005'
down_revision: str | Sequence[str] | None = '0004'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('blob') as batch:
        batch.alter_column('sha1', existing_type=sa.String(length=40), nullable=True)
        batch.alter_column('md5', existing_type=sa.String(length=32), nullable=True)


def downgrade() -> None:
    # Checksums not yet computed cannot be made up here: the downgrade refuses
    # until every blob has them (show oc:checksums, or run a newer release).
    missing = op.get_bind().execute(
        sa.text("SELECT count(*) FROM blob WHERE sha1 IS NULL OR md5 IS NULL")
    ).scalar()
    if missing:
        raise RuntimeError(f"{missing} blobs have no sha1/md5 yet; cannot downgrade")
    with op.batch_alter_table('blob') as batch:
        batch.alter_column('sha1', existing_type=sa.String(length=40), nullable=False)
        batch.alter_column('md5', existing_type=sa.String(length=32), nullable=False)
