"""Reading the event history (DESIGN 7 and 8, seed 002): filters, pages, rights, CSV, CLI.

Rules: only document administrators and those who may change the configuration
read it (anyone else: Forbidden, nothing read); filters by user, action, path
prefix (the path itself or below it, as source or target) and period combine;
newest first; a page costs two statements whatever the history's size; bad
dates are a clear error; the CSV export has one line per event and defuses
cells a spreadsheet would run as formulas.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
from collections.abc import Iterator

import pytest
from sqlalchemy import update
from sqlalchemy.orm import Session

from davdrive import audit, cli, history
from davdrive.errors import BadRequest, Forbidden
from davdrive.models import AuditEvent
from davdrive.passwords import Passwords
from davdrive.policy import SYSTEM, Actor, may_read_history
from davdrive.runtime import Runtime
from tests.conftest import recorded_statements

DOC_ADMIN = Actor(user_id=1, login="ada", category="admin", documents="admin")
CONFIG = Actor(user_id=2, login="cleo", category="config", documents="read", config=True)
MEMBERS_ADMIN = Actor(user_id=3, login="max", category="office", documents="write",
                      members="admin")
MEMBER = Actor(user_id=4, login="mia", category="member", documents="read")

# (user, action, path, target), appended in this order: ids grow with the list.
STORY = [
    ("alice", "create", "/Finance/budget.xlsx", ""),
    ("bob", "delete", "/Minutes/2026-01.pdf", ""),
    ("alice", "move", "/Inbox/scan.pdf", "/Finance/scans/scan.pdf"),
    ("carol", "create", "/Finance2/other.txt", ""),
    ("alice", "user.set", "", ""),
    ("bob", "create", "/Finance", ""),
]


@pytest.fixture
def story(runtime: Runtime) -> Iterator[Session]:
    with runtime.sessions() as session:
        for user, action, path, target in STORY:
            audit.record(session, user=user, action=action, path=path, target=target)
            session.commit()
        yield session


def _actions(page: history.EventPage) -> list[tuple[str, str]]:
    return [(e.user_login, e.path) for e in page.events]


def test_history_is_read_by_document_admins_and_configurators_only() -> None:
    assert may_read_history(SYSTEM) and may_read_history(DOC_ADMIN) and may_read_history(CONFIG)
    refused = may_read_history(MEMBERS_ADMIN)
    assert not refused and "office" in refused.reason
    assert not may_read_history(MEMBER)


def test_others_are_refused_before_anything_is_read(story: Session, runtime: Runtime) -> None:
    with recorded_statements(runtime.engine) as seen:
        with pytest.raises(Forbidden):
            history.search_events(story, MEMBERS_ADMIN)
        with pytest.raises(Forbidden):
            history.events_csv(story, MEMBER)
    assert seen == []


def test_newest_first_and_every_filter(story: Session) -> None:
    everything = history.search_events(story, DOC_ADMIN)
    assert everything.total == len(STORY)
    assert [e.user_login for e in everything.events] == [s[0] for s in reversed(STORY)]
    by_user = history.search_events(story, CONFIG, user="alice")
    assert [e.action for e in by_user.events] == ["user.set", "move", "create"]
    by_action = history.search_events(story, DOC_ADMIN, action="create", user="alice")
    assert _actions(by_action) == [("alice", "/Finance/budget.xlsx")]


def test_a_path_prefix_is_the_folder_itself_and_what_lies_below_as_source_or_target(
    story: Session,
) -> None:
    page = history.search_events(story, DOC_ADMIN, path_prefix="/Finance/")
    assert _actions(page) == [
        ("bob", "/Finance"), ("alice", "/Inbox/scan.pdf"), ("alice", "/Finance/budget.xlsx"),
    ], "/Finance2 is another folder; the move into /Finance counts by its target"
    with pytest.raises(BadRequest):
        history.search_events(story, DOC_ADMIN, path_prefix="Finance")


def test_a_period_includes_its_start_and_excludes_its_end(story: Session) -> None:
    ids = [e.id for e in reversed(history.search_events(story, DOC_ADMIN).events)]
    base = dt.datetime(2026, 3, 1, 12, 0, tzinfo=dt.UTC)
    for offset, event_id in enumerate(ids):
        story.execute(update(AuditEvent).where(AuditEvent.id == event_id)
                      .values(time=base + dt.timedelta(hours=offset)))
    story.commit()
    page = history.search_events(story, DOC_ADMIN, since=base + dt.timedelta(hours=1),
                                 until=base + dt.timedelta(hours=3))
    assert [e.id for e in page.events] == [ids[2], ids[1]]
    with pytest.raises(BadRequest):
        history.search_events(story, DOC_ADMIN, since=base, until=base)


def test_a_page_costs_two_statements_and_pages_are_clamped(
    story: Session, runtime: Runtime
) -> None:
    with recorded_statements(runtime.engine) as seen:
        page = history.search_events(story, DOC_ADMIN, per_page=4, page=9)
    assert len(seen) == 2, seen
    assert (page.total, page.page, page.pages, len(page.events)) == (len(STORY), 2, 2, 2)
    with pytest.raises(BadRequest):
        history.search_events(story, DOC_ADMIN, per_page=0)


@pytest.mark.sqlite_only("reads SQLite's EXPLAIN QUERY PLAN")
def test_filters_use_the_indexes(story: Session) -> None:
    """SQLite's plan for each filter names its index, never a scan of the table."""
    cases = {
        "ix_audit_event_user_login": {"user": "alice"},
        "ix_audit_event_action": {"action": "delete"},
        "ix_audit_event_time": {"since": dt.datetime(2026, 1, 1, tzinfo=dt.UTC)},
        "ix_audit_event_path": {"path_prefix": "/Finance"},
    }
    for index, filters in cases.items():
        where = history._conditions(history.EventFilter(**filters), "sqlite")
        query = history._newest_first(where)
        sql = str(query.compile(story.get_bind(), compile_kwargs={"literal_binds": True}))
        plan = " ".join(str(row[-1]) for row in story.connection().exec_driver_sql(
            f"EXPLAIN QUERY PLAN {sql}"))
        assert index in plan, (filters, plan)


def test_moments_are_read_as_iso_dates_or_local_date_times() -> None:
    day = history.parse_moment("2026-06-30", "--since")
    end = history.parse_moment("2026-06-30", "--until", end_of_day=True)
    assert day is not None and end is not None and end - day == dt.timedelta(days=1)
    local = dt.datetime(2026, 6, 30, 18, 0).astimezone(dt.UTC)
    assert history.parse_moment("2026-06-30T18:00", "--since") == local
    assert history.parse_moment("2026-06-30T18:00+02:00", "--since") == dt.datetime(
        2026, 6, 30, 16, 0, tzinfo=dt.UTC)
    assert history.parse_moment("", "--since") is None
    for bad in ("yesterday", "2026-13-01", "30/06/2026"):
        with pytest.raises(BadRequest, match="--since"):
            history.parse_moment(bad, "--since")


def test_the_csv_has_a_header_and_one_row_per_event_with_formulas_defused(
    runtime: Runtime,
) -> None:
    with runtime.sessions() as session:
        audit.record(session, user="=HYPERLINK(\"x\")", action="login", outcome="refused",
                     detail="wrong login or password")
        audit.record(session, user="alice", action="create", path="/a,b \"c\".txt")
        session.commit()
        text = "".join(history.events_csv(session, CONFIG))
    rows = list(csv.reader(io.StringIO(text)))
    assert rows[0] == list(history.CSV_COLUMNS)
    assert [r[2] for r in rows[1:]] == ["alice", "'=HYPERLINK(\"x\")"]
    assert rows[1][5] == "/a,b \"c\".txt"
    assert rows[1][1].endswith("Z")


# --- the command line ------------------------------------------------------------------------


def _cli(runtime: Runtime, passwords: Passwords, capsys: pytest.CaptureFixture[str],
         *args: str) -> tuple[int, str, str]:
    code = cli.main(["--data", str(runtime.settings.data_dir), "audit", *args],
                    passwords=passwords)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_cli_lists_newest_first_with_filters_and_limit(
    story: Session, runtime: Runtime, fast_passwords: Passwords,
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, out, _ = _cli(runtime, fast_passwords, capsys, "--user", "alice", "--json")
    events = json.loads(out)
    assert code == 0 and [e["action"] for e in events] == ["user.set", "move", "create"]
    assert set(events[0]) == {"id", "time", "user", "ip", "action", "path", "target",
                              "outcome", "detail"}
    code, out, _ = _cli(runtime, fast_passwords, capsys, "--path", "/Finance", "--limit", "2",
                        "--json")
    assert [e["path"] for e in json.loads(out)] == ["/Finance", "/Inbox/scan.pdf"]
    code, out, _ = _cli(runtime, fast_passwords, capsys, "--action", "delete")
    lines = out.strip().splitlines()
    assert code == 0 and len(lines) == 2 and "/Minutes/2026-01.pdf" in lines[1]


def test_cli_refuses_bad_dates_and_limits_in_one_line(
    story: Session, runtime: Runtime, fast_passwords: Passwords,
    capsys: pytest.CaptureFixture[str],
) -> None:
    for args, word in ((("--since", "last week"), "--since"), (("--until", "2026-02-30"),
                       "--until"), (("--limit", "0"), "--limit"),
                       (("--since", "2026-05-01", "--until", "2026-04-01"), "period")):
        code, out, err = _cli(runtime, fast_passwords, capsys, *args)
        lines = err.strip().splitlines()
        assert code == 1 and out == "" and len(lines) == 1, (args, err)
        assert lines[0].startswith("davdrive: error: ") and word in lines[0], lines[0]
