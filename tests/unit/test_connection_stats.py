"""Connection statistics (seed 002, DESIGN 2): counted in memory, stored by a flush.

Rules: counting writes nothing; a flush adds each (login, day, interface) counted
to its daily row (created the first time, added to afterwards) in one transaction,
one UPDATE per key and an INSERT only for a new row, and nothing at all when
nothing was counted; counts a failed flush could not store are kept for the next;
threads counting at once lose nothing; the flusher thread stores on its own and
once more when stopped; the totals read back per login and interface over the
last N days, with `davdrive stats --json` giving them with stable keys.
"""

from __future__ import annotations

import datetime as dt
import json
import threading
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from davdrive import cli, stats_report, tree
from davdrive.connection_stats import ConnectionStats, Counts, StatsFlusher
from davdrive.errors import BadRequest, Forbidden
from davdrive.models import LoginStat
from davdrive.passwords import Passwords
from davdrive.policy import SYSTEM, Actor
from davdrive.runtime import Runtime
from davdrive.services import Drive
from tests.conftest import put_file, recorded_statements

DAY = dt.date(2026, 3, 14)
MEMBER = Actor(user_id=4, login="mia", category="member", documents="read")


def _rows(runtime: Runtime) -> dict[tuple[str, dt.date, str], tuple[int, ...]]:
    with runtime.sessions() as session:
        return {
            (r.login, r.day, r.interface): (r.successes, r.failures, r.requests, r.bytes_in,
                                            r.bytes_out)
            for r in session.scalars(select(LoginStat))
        }


def _writes(statements: list[str]) -> list[str]:
    return [s for s in statements if s.split()[0] in ("INSERT", "UPDATE")
            and "login_stat" in s]


def test_counting_writes_nothing_and_a_flush_creates_then_adds_to_the_day_row(
    runtime: Runtime,
) -> None:
    stats = ConnectionStats(today=lambda: DAY)
    with recorded_statements(runtime.engine) as seen:
        stats.request("alice", "dav", 10, 300)
        stats.request("alice", "dav", 5, 0)
        stats.sign_in("alice", "dav", ok=True)
        stats.sign_in("alice", "admin", ok=False)
    assert seen == []
    with recorded_statements(runtime.engine) as seen:
        assert stats.flush(runtime.sessions) == 2
    writes = _writes(seen)
    assert [w.split()[0] for w in writes] == ["UPDATE", "INSERT", "UPDATE", "INSERT"], writes
    assert _rows(runtime) == {
        ("alice", DAY, "dav"): (1, 0, 2, 15, 300),
        ("alice", DAY, "admin"): (0, 1, 0, 0, 0),
    }
    stats.request("alice", "dav", 1, 2)
    with recorded_statements(runtime.engine) as seen:
        stats.flush(runtime.sessions)
    assert [w.split()[0] for w in _writes(seen)] == ["UPDATE"], "the day's row is added to"
    assert _rows(runtime)[("alice", DAY, "dav")] == (1, 0, 3, 16, 302)
    with recorded_statements(runtime.engine) as seen:
        assert stats.flush(runtime.sessions) == 0
    assert seen == [], "nothing counted: no SQL at all"


def test_days_and_interfaces_are_counted_apart(runtime: Runtime) -> None:
    today = [DAY]
    stats = ConnectionStats(today=lambda: today[0])
    stats.request("bob", "dav", 0, 1)
    today[0] = DAY + dt.timedelta(days=1)
    stats.request("bob", "dav", 0, 1)
    stats.request("bob", "admin", 0, 1)
    stats.flush(runtime.sessions)
    assert set(_rows(runtime)) == {("bob", DAY, "dav"), ("bob", today[0], "dav"),
                                   ("bob", today[0], "admin")}
    with pytest.raises(ValueError):
        stats.request("bob", "ftp", 0, 0)


def test_a_failed_flush_keeps_the_counts_for_the_next(runtime: Runtime) -> None:
    stats = ConnectionStats(today=lambda: DAY)
    stats.request("carol", "dav", 7, 9)

    def broken() -> Session:
        raise OperationalError("connect", {}, Exception("database is gone"))

    with pytest.raises(OperationalError):
        stats.flush(broken)
    stats.request("carol", "dav", 1, 1)
    assert stats.pending() == {("carol", DAY, "dav"): Counts(requests=2, bytes_in=8,
                                                             bytes_out=10)}
    stats.flush(runtime.sessions)
    assert _rows(runtime) == {("carol", DAY, "dav"): (0, 0, 2, 8, 10)}


def test_threads_counting_at_once_lose_nothing(runtime: Runtime) -> None:
    stats = ConnectionStats(today=lambda: DAY)
    threads, each = 8, 500
    barrier = threading.Barrier(threads + 1)

    def count() -> None:
        barrier.wait(timeout=30)
        for _ in range(each):
            stats.request("dora", "dav", 1, 2)

    workers = [threading.Thread(target=count) for _ in range(threads)]
    for w in workers:
        w.start()
    barrier.wait(timeout=30)
    while any(w.is_alive() for w in workers):
        stats.flush(runtime.sessions)  # flushes racing the counting threads
    stats.flush(runtime.sessions)
    total = threads * each
    assert _rows(runtime) == {("dora", DAY, "dav"): (0, 0, total, total, 2 * total)}


def test_the_flusher_stores_on_its_own_and_when_stopped(runtime: Runtime) -> None:
    stats = ConnectionStats(today=lambda: DAY)
    flusher = StatsFlusher(stats, runtime.sessions, 0.05).start()
    try:
        stats.request("erin", "admin", 0, 5)
        for _ in range(200):
            if _rows(runtime):
                break
            threading.Event().wait(0.02)
        assert _rows(runtime) == {("erin", DAY, "admin"): (0, 0, 1, 0, 5)}
    finally:
        stats.request("erin", "admin", 0, 5)
        flusher.stop()
    assert _rows(runtime) == {("erin", DAY, "admin"): (0, 0, 2, 0, 10)}


def test_closing_the_runtime_stores_what_is_left(runtime: Runtime) -> None:
    runtime.connection_stats.request("fred", "dav", 3, 4)
    runtime.close()
    day = dt.date.today()
    with runtime.sessions() as session:  # the engine reconnects on demand
        row = session.scalars(select(LoginStat)).one()
    assert (row.login, row.day, row.requests, row.bytes_in, row.bytes_out) == (
        "fred", day, 1, 3, 4)


# --- reading them back --------------------------------------------------------------------


def _seed(runtime: Runtime, today: dt.date) -> None:
    for days_ago, login, interface, n in ((0, "alice", "dav", 3), (1, "alice", "dav", 2),
                                          (1, "alice", "admin", 1), (0, "", "dav", 4),
                                          (40, "alice", "dav", 100)):
        stats = ConnectionStats(today=lambda d=days_ago: today - dt.timedelta(days=d))
        for _ in range(n):
            stats.request(login, interface, 10, 100)
        stats.sign_in(login, interface, ok=True)
        stats.flush(runtime.sessions)


def test_totals_per_login_and_interface_over_the_last_days(runtime: Runtime) -> None:
    _seed(runtime, DAY)
    with runtime.sessions() as session:
        report = stats_report.connection_totals(session, SYSTEM, 30, today=DAY)
        with pytest.raises(Forbidden):
            stats_report.connection_totals(session, MEMBER, 30, today=DAY)
        with pytest.raises(BadRequest):
            stats_report.connection_totals(session, SYSTEM, 0, today=DAY)
    assert [(r.login, r.interface, r.successes, r.requests, r.bytes_out) for r in report.rows] == [
        ("", "dav", 1, 4, 400), ("alice", "admin", 1, 1, 100), ("alice", "dav", 2, 5, 500),
    ], "40 days ago is outside the 30 days"
    overall = report.overall
    assert (overall.successes, overall.requests, overall.bytes_in) == (4, 10, 100)


def test_requests_per_day_cover_every_day_of_the_period(runtime: Runtime) -> None:
    _seed(runtime, DAY)
    with runtime.sessions() as session:
        days, values = stats_report.requests_per_day(session, SYSTEM, days=3, today=DAY)
        _, alice = stats_report.requests_per_day(session, SYSTEM, "alice", days=3, today=DAY)
    assert days == [DAY - dt.timedelta(days=2), DAY - dt.timedelta(days=1), DAY]
    assert values == [0, 3, 7] and alice == [0, 3, 3]


def test_cli_stats_json_shape(
    runtime: Runtime, fast_passwords: Passwords, capsys: pytest.CaptureFixture[str]
) -> None:
    today = dt.date.today()
    _seed(runtime, today)
    code = cli.main(["--data", str(runtime.settings.data_dir), "stats", "--json", "--days", "2"],
                    passwords=fast_passwords)
    report: dict[str, Any] = json.loads(capsys.readouterr().out)
    counters = {"sign_ins", "failures", "requests", "bytes_in", "bytes_out"}
    assert code == 0
    assert set(report) == {"first_day", "last_day", "days", "rows", "overall", "storage"}
    assert (report["days"], report["last_day"]) == (2, today.isoformat())
    assert all(set(row) == {"login", "interface"} | counters for row in report["rows"])
    assert set(report["overall"]) == counters
    assert report["overall"]["requests"] == 10
    assert {(r["login"], r["interface"]) for r in report["rows"]} == {
        ("", "dav"), ("alice", "dav"), ("alice", "admin")}


def test_requests_per_day_by_login_cover_every_day_for_each_login(runtime: Runtime) -> None:
    _seed(runtime, DAY)
    with runtime.sessions() as session:
        days, series = stats_report.requests_per_day_by_login(session, SYSTEM, 3, today=DAY)
        with pytest.raises(Forbidden):
            stats_report.requests_per_day_by_login(session, MEMBER, 3, today=DAY)
    assert days == [DAY - dt.timedelta(days=2), DAY - dt.timedelta(days=1), DAY]
    assert series == {"": [0, 0, 4], "alice": [0, 3, 3]}  # both interfaces together


def test_cli_stats_counts_the_trash_and_the_versions(
    runtime: Runtime, fast_passwords: Passwords, capsys: pytest.CaptureFixture[str]
) -> None:
    with runtime.sessions() as session:
        drive = Drive(session, runtime.blobs, SYSTEM, runtime.drive_options)
        root = tree.get_root(session)
        put_file(drive, root, "kept.txt", b"first")
        put_file(drive, root, "kept.txt", b"second!")
        drive.delete(put_file(drive, root, "gone.txt", b"0123456789"))
        session.commit()
    code = cli.main(["--data", str(runtime.settings.data_dir), "stats", "--json"],
                    passwords=fast_passwords)
    storage = json.loads(capsys.readouterr().out)["storage"]
    assert code == 0
    assert storage["live_files"] == {"count": 1, "bytes": 7}
    assert storage["trash_files"] == {"count": 1, "bytes": 10}
    assert storage["versions"] == {"count": 1, "bytes": 5}
    cli.main(["--data", str(runtime.settings.data_dir), "stats"], passwords=fast_passwords)
    lines = capsys.readouterr().out.split("storage now")[1].splitlines()
    assert any(line.split()[-2:] == ["1", "10"] for line in lines if "trash" in line)


def test_cli_stats_table_names_requests_without_a_user(
    runtime: Runtime, fast_passwords: Passwords, capsys: pytest.CaptureFixture[str]
) -> None:
    _seed(runtime, dt.date.today())
    code = cli.main(["--data", str(runtime.settings.data_dir), "stats"], passwords=fast_passwords)
    out = capsys.readouterr().out
    assert code == 0 and "(not signed in)" in out
    connections = out.split("storage now")[0]
    assert connections.strip().splitlines()[-1].split()[:2] == ["all", "all"]
    code = cli.main(["--data", str(runtime.settings.data_dir), "stats", "--days", "-1"],
                    passwords=fast_passwords)
    assert code == 1
