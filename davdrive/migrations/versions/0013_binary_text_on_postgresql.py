"""PostgreSQL: every text column compares byte by byte (COLLATE "C"), as on SQLite

With a linguistic default collation (en_US.UTF-8, ICU's en-US: most servers'),
PostgreSQL sorted "B" after "a", ignored punctuation and accents in a first
pass, and so ordered names, keys and paths unlike SQLite: keyset pages over
name keys, path ranges ("/a/" to "/a0") and sorted listings differed. The
models declare the "C" collation on PostgreSQL (davdrive.models); this gives
it to the columns of databases made before. Nothing to do on SQLite.

Revision ID: 0013
Revises: 0009
Create Date: 2026-12-02 09:00:00

"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0013'
down_revision: str | Sequence[str] | None = '0009'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The text columns of the schema's tables whose collation is not the one wanted.
_COLUMNS = sa.text(
    "SELECT table_name, column_name, data_type, character_maximum_length "
    "FROM information_schema.columns "
    "WHERE table_schema = current_schema() AND table_name != 'alembic_version' "
    "AND data_type IN ('text', 'character varying') "
    "AND collation_name IS DISTINCT FROM :collation ORDER BY table_name, column_name"
)


def _collate(collation: str, but_not: str | None) -> None:
    bind = op.get_bind()
    if bind.dialect.name != "postgresql":
        return
    rows = bind.execute(_COLUMNS, {"collation": but_not}).all()
    for table, column, data_type, length in rows:
        kind = "text" if data_type == "text" else f"varchar({length})" if length else "varchar"
        op.execute(f'ALTER TABLE "{table}" ALTER COLUMN "{column}" '
                   f'TYPE {kind} COLLATE "{collation}"')


def upgrade() -> None:
    _collate("C", "C")


def downgrade() -> None:
    _collate("default", None)
