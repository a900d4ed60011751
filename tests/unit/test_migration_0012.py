"""Migration 0012: a database of 0008 keeps its statistics rows, counted from zero bytes.

Rules: the rows of ``login_stat`` survive with ``bytes_in`` and ``bytes_out`` at 0,
new rows add to them; the history's path indexes and the statistics' day index
exist afterwards; a downgrade gives the 0008 table back.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from alembic import command
from sqlalchemy import inspect, text

from davdrive import db
from davdrive.connection_stats import ConnectionStats


def test_0012_keeps_the_rows_of_0008_and_counts_their_bytes_from_zero(tmp_path: Path) -> None:
    engine = db.make_engine(f"sqlite:///{tmp_path / 'v8.sqlite3'}")
    command.upgrade(db._alembic_config(engine), "0008")
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO login_stat (login, day, interface, successes, failures, "
                          "requests) VALUES ('ann', '2026-03-14', 'dav', 2, 1, 40)"))
    command.upgrade(db._alembic_config(engine), "0012")
    with engine.begin() as conn:
        row = conn.execute(text("SELECT successes, failures, requests, bytes_in, bytes_out "
                                "FROM login_stat")).one()
    assert tuple(row) == (2, 1, 40, 0, 0)
    stats = ConnectionStats(today=lambda: dt.date(2026, 3, 14))
    stats.request("ann", "dav", 5, 6)
    stats.flush(db.make_session_factory(engine))
    with engine.begin() as conn:
        row = conn.execute(text("SELECT requests, bytes_in, bytes_out FROM login_stat")).one()
    assert tuple(row) == (41, 5, 6)
    indexes = {i["name"] for t in ("audit_event", "login_stat")
               for i in inspect(engine).get_indexes(t)}
    assert {"ix_audit_event_path", "ix_audit_event_target_path", "ix_login_stat_day"} <= indexes
    command.downgrade(db._alembic_config(engine), "0008")
    columns = {c["name"] for c in inspect(engine).get_columns("login_stat")}
    assert "bytes_in" not in columns and "requests" in columns
