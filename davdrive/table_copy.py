"""Copy every table of the drive's schema from one database to another; digest tables.

Used by ``davdrive migrate-storage`` (SQLite <-> PostgreSQL) and by the backup
of a PostgreSQL drive (its tables into a snapshot's SQLite file). Both
databases must be at the same (head) schema; each is migrated by itself, so
Alembic's version table is never copied.

Contracts:

- ``TABLES``: the tables of the models' metadata in dependency order (a table
  after those it refers to), without ``NOT_COPIED`` (the storage move's
  marker) and with the ``SEEDED`` tables last.
- ``SEEDED``: tables the migrations fill (``tree_state``: its row) and triggers
  change (a row of ``node`` written bumps ``tree_state.version``). Their rows
  are replaced, after every other table: they end equal to the source's.
- ``copy_tables(source, target)`` reads each table ordered by its key on
  ``source`` (a connection in the caller's read transaction: the caller makes
  it one consistent point) and inserts the rows in batches on ``target`` (a
  connection in the caller's write transaction), every column as it is,
  primary keys included. A column referring to its own table (``node.parent_id``)
  is inserted empty and set once every row is in, so rows may come in any
  order. Returns each table's ``TableDigest`` of the rows read. The target's
  copied tables must be empty (``clear_tables``), its seeded ones may not.
- ``reset_sequences(target)``: PostgreSQL's sequences of integer keys set past
  the largest key copied (nothing to do on SQLite, which takes max + 1).
- ``digest_tables(conn)``: each table's row count and digest: the sum, modulo
  2**256, of the sha256 of every row's canonical values (``canonical_row``:
  times in UTC, floats by ``repr``, JSON with sorted keys, bytes in hex), so it
  does not depend on the order rows come in nor on the database that holds them.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Column, Connection, LargeBinary, Table, bindparam, func, select, update

from davdrive.models import Base

NOT_COPIED = frozenset({"storage_move"})
SEEDED = ("tree_state",)
BATCH_ROWS = 1000
_MODULUS = 1 << 256

TABLES: tuple[Table, ...] = (
    *(t for t in Base.metadata.sorted_tables
      if t.name not in NOT_COPIED and t.name not in SEEDED),
    *(Base.metadata.tables[name] for name in SEEDED),
)

Progress = Callable[[str, int], None]  # (table, rows copied so far in it)


@dataclass
class TableDigest:
    """A table's row count and order-independent digest (see the module)."""

    rows: int = 0
    total: int = 0

    def add(self, row: dict[str, Any]) -> None:
        self.rows += 1
        digest = hashlib.sha256(canonical_row(row).encode("utf-8")).digest()
        self.total = (self.total + int.from_bytes(digest, "big")) % _MODULUS

    @property
    def hexdigest(self) -> str:
        return f"{self.total:064x}"


def canonical_row(row: dict[str, Any]) -> str:
    """The row's values as one JSON text that is the same whichever database held it."""
    return json.dumps({name: _canonical(value) for name, value in sorted(row.items())},
                      sort_keys=True, ensure_ascii=False, separators=(",", ":"))


def _canonical(value: Any) -> Any:
    if isinstance(value, dt.datetime):
        aware = value if value.tzinfo is not None else value.replace(tzinfo=dt.UTC)
        return "t:" + aware.astimezone(dt.UTC).isoformat()
    if isinstance(value, dt.date):
        return "d:" + value.isoformat()
    if isinstance(value, float):
        return "f:" + repr(value)
    if isinstance(value, bytes | bytearray | memoryview):
        return "b:" + bytes(value).hex()
    if isinstance(value, dict | list):
        return "j:" + json.dumps(value, sort_keys=True, ensure_ascii=False)
    return value


def _ordered(table: Table) -> Any:
    return select(table).order_by(*table.primary_key.columns)


def _self_references(table: Table) -> list[Column[Any]]:
    """Columns of ``table`` referring to ``table`` itself (set after the inserts)."""
    found = [fk.parent for fk in table.foreign_keys if fk.column.table is table]
    for column in found:
        assert column.nullable, f"{table.name}.{column.name} refers to its table: nullable"
    return found


def copy_tables(
    source: Connection, target: Connection, *, batch: int = BATCH_ROWS,
    progress: Progress | None = None,
) -> dict[str, TableDigest]:
    """Copy every table of ``TABLES`` from ``source`` to ``target``; see the module."""
    return {table.name: _copy_table(source, target, table, batch, progress)
            for table in TABLES}


def _copy_table(
    source: Connection, target: Connection, table: Table, batch: int,
    progress: Progress | None,
) -> TableDigest:
    digest = TableDigest()
    if any(isinstance(column.type, LargeBinary) for column in table.columns):
        batch = max(1, batch // 16)  # content kept in the database: up to 64 KiB a row
    later = _self_references(table)
    key = next(iter(table.primary_key.columns))  # a single key where ``later`` is not empty
    pending: list[dict[str, Any]] = []
    links: list[dict[str, Any]] = []
    if table.name in SEEDED:
        target.execute(table.delete())
    rows = source.execution_options(yield_per=batch).execute(_ordered(table)).mappings()
    for row in rows:
        values = dict(row)
        digest.add(values)
        for column in later:
            if values[column.name] is not None:
                links.append({"_key": values[key.name], "_value": values[column.name],
                              "_column": column.name})
                values[column.name] = None
        pending.append(values)
        if len(pending) >= batch:
            target.execute(table.insert(), pending)
            pending.clear()
            if progress is not None:
                progress(table.name, digest.rows)
    if pending:
        target.execute(table.insert(), pending)
    for column in later:
        statement = update(table).where(key == bindparam("_key")).values(
            {column.name: bindparam("_value")})
        mine = [link for link in links if link["_column"] == column.name]
        for start in range(0, len(mine), batch):
            target.execute(statement, mine[start:start + batch])
    if progress is not None:
        progress(table.name, digest.rows)
    return digest


def reset_sequences(target: Connection) -> None:
    """On PostgreSQL, each integer key's sequence past the largest key (see module)."""
    if target.dialect.name != "postgresql":
        return
    for table in TABLES:
        column = table.autoincrement_column
        if column is None:
            continue
        following = select(func.coalesce(func.max(column), 0) + 1).scalar_subquery()
        sequence = func.pg_get_serial_sequence(table.name, column.name)
        target.execute(select(func.setval(sequence, following, False)))


def clear_tables(target: Connection) -> None:
    """Delete every row of the copied tables (the seeded ones keep theirs)."""
    for table in reversed(TABLES):
        if table.name not in SEEDED:
            target.execute(table.delete())


def count_rows(conn: Connection) -> dict[str, int]:
    """Rows of each table ``copy_tables`` writes into, seeded ones left out: what a
    database that holds no drive has none of."""
    return {table.name: conn.execute(select(func.count()).select_from(table)).scalar_one()
            for table in TABLES if table.name not in SEEDED}


def digest_tables(conn: Connection, *, batch: int = BATCH_ROWS) -> dict[str, TableDigest]:
    """Each table's ``TableDigest`` as ``conn`` reads it."""
    found = {}
    for table in TABLES:
        digest = TableDigest()
        for row in conn.execution_options(yield_per=batch).execute(_ordered(table)).mappings():
            digest.add(dict(row))
        found[table.name] = digest
    return found


def differences(
    source: dict[str, TableDigest], target: dict[str, TableDigest]
) -> list[str]:
    """One line per table whose rows differ between two ``digest_tables``."""
    lines = []
    for name, mine in source.items():
        theirs = target.get(name, TableDigest())
        if (mine.rows, mine.total) != (theirs.rows, theirs.total):
            lines.append(f"table {name}: {mine.rows} rows in the source, {theirs.rows} in "
                         f"the target, digests {mine.hexdigest[:16]} and "
                         f"{theirs.hexdigest[:16]}")
    return lines
