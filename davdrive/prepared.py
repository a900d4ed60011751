"""The hottest statements, compiled once per dialect and run on the pooled DBAPI connection.

SQLAlchemy's execution machinery (execution context, cursor result, row
objects) costs about 20 us per statement, several times what SQLite takes to
answer a primary-key or indexed look-up. A request that runs two such
statements (sign-in from the cache, the fast GET's path walk) spent more on
that machinery than on anything else. ``Prepared`` keeps what the machinery
would do once per statement and dialect: the SQL text SQLAlchemy compiled for
the connection's dialect (so PostgreSQL works as SQLite does), the order and
processing of the bound parameters, and the result processors of the selected
columns, chosen with the types the driver reports on the first run (SQLite's
booleans, datetimes and JSON come back as Python values, as through Core).

Listeners of the engine's ``before_cursor_execute`` / ``after_cursor_execute``
events see each statement as usual (the tests count statements and explain
their plans with them); they get no execution context (None). Only
statements without expanding (``IN``) parameters are accepted: SELECTs
(``rows``, ``first``) and statements that return no rows (``run``; for an
INSERT of one row with the columns' Python-side defaults, ``PreparedInsert``).
"""

from __future__ import annotations

import threading
from collections import namedtuple
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Table, bindparam, insert
from sqlalchemy.engine import Dialect
from sqlalchemy.exc import DBAPIError
from sqlalchemy.sql.selectable import SelectBase


@dataclass
class _Plan:
    sql: str
    order: tuple[str, ...] | None  # positional dialects: the bind names in order
    defaults: Mapping[str, Any]  # literal values the statement binds itself
    binds: Mapping[str, Callable[[Any], Any]]  # bind processors, by bind name
    types: tuple[Any, ...]  # the selected columns' types
    row: Any  # a namedtuple type over the selected columns' keys
    dialect: Dialect
    # (column, processor), chosen on the first run from the driver's column types
    results: tuple[tuple[int, Callable[[Any], Any]], ...] | None = None

    def arguments(self, params: Mapping[str, Any]) -> Any:
        values = {**self.defaults, **params}
        for name, process in self.binds.items():
            values[name] = process(values[name])
        if self.order is None:
            return values
        return tuple(values[name] for name in self.order)

    def rows(self, raw: Sequence[Any], description: Any) -> list[Any]:
        results = self.results
        if results is None:
            results = self.results = self._results(description)
        make = self.row._make
        if not results:
            return [make(values) for values in raw]
        out = []
        for values in raw:
            values = list(values)
            for index, process in results:
                values[index] = process(values[index])
            out.append(make(values))
        return out

    def _results(self, description: Any) -> tuple[tuple[int, Callable[[Any], Any]], ...]:
        codes = tuple(d[1] for d in description) if description else ()
        processors = result_processors(self.dialect, self.types, codes)
        return tuple((i, p) for i, p in enumerate(processors) if p is not None)


def result_processors(
    dialect: Dialect, types: Sequence[Any], codes: Sequence[Any]
) -> tuple[Callable[[Any], Any] | None, ...]:
    """What SQLAlchemy applies to each value of columns of ``types`` (as compiled
    for ``dialect``) that the driver reports with type ``codes`` (its cursor
    description; PostgreSQL's numeric processors need them): None where the
    driver's value is already the Python value."""
    return tuple(
        type_.dialect_impl(dialect).result_processor(dialect, codes[i] if i < len(codes) else None)
        for i, type_ in enumerate(types)
    )


class Prepared:
    """``statement`` (a Core SELECT, built once) ready to run on any dialect."""

    def __init__(self, statement: Any) -> None:
        self.statement = statement
        self._plans: dict[str, _Plan] = {}
        self._lock = threading.Lock()

    def rows(self, conn: Connection, params: Mapping[str, Any]) -> list[Any]:
        """All rows for ``params``, as named tuples over the selected columns' keys
        (a key that repeats is renamed ``_<position>``)."""
        plan = self._plans.get(conn.dialect.name) or self._plan(conn.dialect)
        args = plan.arguments(params)
        cursor = conn.connection.cursor()
        try:
            raw = _execute(conn, cursor, plan, args, fetch=True)
            return plan.rows(raw, cursor.description)
        finally:
            cursor.close()

    def run(self, conn: Connection, params: Mapping[str, Any]) -> None:
        """Execute a statement that returns no rows (INSERT, UPDATE, DELETE), in
        ``conn``'s transaction."""
        plan = self._plans.get(conn.dialect.name) or self._plan(conn.dialect)
        args = plan.arguments(params)
        cursor = conn.connection.cursor()
        try:
            _execute(conn, cursor, plan, args, fetch=False)
        finally:
            cursor.close()

    def first(self, conn: Connection, params: Mapping[str, Any]) -> Any | None:
        """The first row, or None."""
        rows = self.rows(conn, params)
        return rows[0] if rows else None

    def _plan(self, dialect: Dialect) -> _Plan:
        with self._lock:
            plan = self._plans.get(dialect.name)
            if plan is None:
                plan = self._plans[dialect.name] = _compile(self.statement, dialect)
            return plan


def _execute(conn: Connection, cursor: Any, plan: _Plan, args: Any, *, fetch: bool) -> Any:
    """Run ``plan`` on ``cursor`` with the statement events; the driver's errors are
    raised as SQLAlchemy raises them (``IntegrityError``, ``OperationalError``...)."""
    # As SQLAlchemy itself asks before firing an event: any listener at all?
    events = conn._has_events or conn.engine._has_events
    if events:
        conn.dispatch.before_cursor_execute(conn, cursor, plan.sql, args, None, False)
    try:
        cursor.execute(plan.sql, args)
        raw = cursor.fetchall() if fetch else None
    except conn.dialect.loaded_dbapi.Error as exc:
        raise DBAPIError.instance(
            plan.sql, args, exc, conn.dialect.loaded_dbapi.Error, dialect=conn.dialect
        ) from exc
    if events:
        conn.dispatch.after_cursor_execute(conn, cursor, plan.sql, args, None, False)
    return raw


class PreparedInsert:
    """An INSERT of one row into ``table`` (``make(table)``: ``insert``, or a dialect's
    insert with its ON CONFLICT clause), as a ``Prepared`` statement: every column but
    the autoincrement key is bound, and a value not given takes the column's
    Python-side default, computed per row as SQLAlchemy computes it (None, that is
    NULL, for a column without one)."""

    def __init__(self, table: Table, make: Callable[[Table], Any] = insert) -> None:
        columns = [c for c in table.columns if c is not table.autoincrement_column]
        if any(c.server_default is not None for c in columns):
            raise ValueError("PreparedInsert cannot leave a column to a server default")
        self._keys = tuple(c.key for c in columns)
        self._defaults: list[tuple[str, Any]] = []
        for column in columns:
            default = column.default
            if default is None:
                continue
            if not (default.is_scalar or default.is_callable):
                raise ValueError(f"PreparedInsert cannot compute the default of {column.key}")
            self._defaults.append((column.key, default))
        values = {c.key: bindparam(c.key, type_=c.type) for c in columns}
        self._prepared = Prepared(make(table).values(values))

    def run(self, conn: Connection, values: Mapping[str, Any]) -> None:
        """Insert the row of ``values`` (column keys) in ``conn``'s transaction."""
        row = dict.fromkeys(self._keys)
        for key, default in self._defaults:
            if key not in values:
                row[key] = default.arg(None) if default.is_callable else default.arg
        row.update(values)
        self._prepared.run(conn, row)


def _compile(statement: Any, dialect: Dialect) -> _Plan:
    compiled = statement.compile(dialect=dialect)
    sql = compiled.string
    if "POSTCOMPILE" in sql or compiled.literal_execute_params or compiled.post_compile_params:
        raise ValueError("Prepared takes no expanding or literal-execute parameters")
    defaults = {
        name: value for name, value in compiled.construct_params(_check=False).items()
        if value is not None
    }
    binds = {}
    for bind, name in compiled.bind_names.items():
        process = bind.type.dialect_impl(dialect).bind_processor(dialect)
        if process is not None:
            binds[name] = process
    selected = statement.selected_columns if isinstance(statement, SelectBase) else ()
    keys = [column.key or f"_{index}" for index, column in enumerate(selected)]
    order = tuple(compiled.positiontup or ()) if compiled.positional else None
    return _Plan(
        sql=sql, order=order, defaults=defaults, binds=binds,
        types=tuple(c.type for c in selected),
        row=namedtuple("PreparedRow", keys, rename=True),  # type: ignore[misc]
        dialect=dialect,
    )
