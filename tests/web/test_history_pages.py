"""The event history and connection statistics pages (issue 14), through forms.

Rules (DESIGN 7-8, seed 002): reading either is a right of configuration or
document administrators (``policy.may_read_history``); others get 403 and no
menu entry. The history takes the CLI's filters (user, action, path prefix by
whole names, from/to days both included), shows 50 events a page newest
first, and exports exactly the filtered events as CSV, a spreadsheet formula
defused with a leading quote. The statistics show totals per user and
interface, a chart of requests per day overall and per user, and the storage
the trash and the versions take.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import re

from sqlalchemy import func, select

from davdrive import audit, node_admin
from davdrive.models import AuditEvent, LoginStat
from davdrive.policy import SYSTEM
from davdrive.server import DriveApp
from davdrive.services import Drive
from tests.conftest import put_file
from tests.web.conftest import Browserless


def _signed_in(app: DriveApp, login: str) -> Browserless:
    b = Browserless(app)
    assert b.sign_in(login).status_code == 303
    return b


def _events(app: DriveApp, rows: list[dict[str, str]]) -> None:
    with app.runtime.sessions() as session:
        for row in rows:
            audit.record(session, **row)
        session.commit()


def _rows_of(page: str) -> list[str]:
    body = page.split('<tbody>', 1)[1].split('</tbody>', 1)[0]
    return re.findall(r"<tr[ >].*?</tr>", body, re.S)


def test_only_configuration_or_document_administrators_read_the_history(
    office: DriveApp,
) -> None:
    root = _signed_in(office, "root")
    assert root.get("/admin/history").status_code == 200
    assert 'href="/admin/history"' in root.page and 'href="/admin/statistics"' in root.page
    for login in ("olga", "mary"):  # office: documents write, no config; member
        b = _signed_in(office, login)
        assert 'href="/admin/history"' not in b.page
        for path in ("/admin/history", "/admin/history.csv", "/admin/statistics"):
            assert b.get(path).status_code == 403, (login, path)
    assert Browserless(office).get("/admin/history").status_code == 302  # signed out


def test_history_filters_by_user_action_and_whole_path_names(office: DriveApp) -> None:
    _events(office, [
        {"user": "olga", "action": "create", "path": "/Finance/budget.ods"},
        {"user": "olga", "action": "delete", "path": "/Finance/old.ods"},
        {"user": "ann", "action": "create", "path": "/Finance/plan.txt"},
        {"user": "olga", "action": "create", "path": "/FinanceOld/x.txt"},
        {"user": "ann", "action": "move", "path": "/Minutes/a.txt",
         "target": "/Finance/a.txt"},
    ])
    root = _signed_in(office, "root")
    root.get("/admin/history?user=olga&action=create&path=/Finance")
    rows = _rows_of(root.page)
    assert len(rows) == 1 and "/Finance/budget.ods" in rows[0]
    root.get("/admin/history?path=/Finance")
    paths = {p for row in _rows_of(root.page) for p in re.findall(r"<td>(/[^<]*)</td>", row)}
    assert "/FinanceOld/x.txt" not in paths  # a prefix is whole names
    assert {"/Finance/budget.ods", "/Finance/old.ods", "/Finance/plan.txt",
            "/Finance/a.txt"} <= paths  # the move's target is under /Finance


def test_history_days_are_included_at_both_ends_and_bad_dates_are_refused(
    office: DriveApp,
) -> None:
    _events(office, [{"user": "olga", "action": "create", "path": "/a"}])
    today = dt.date.today()
    root = _signed_in(office, "root")
    root.get(f"/admin/history?user=olga&since={today}&until={today}")
    assert len(_rows_of(root.page)) == 1
    yesterday = today - dt.timedelta(days=1)
    root.get(f"/admin/history?user=olga&since={yesterday}&until={yesterday}")
    assert "No event matches." in root.page
    answer = root.get("/admin/history?since=31/12/2026")
    assert answer.status_code == 400 and 'id="error-since"' in root.page
    assert "not an ISO date" in root.page
    answer = root.get(f"/admin/history?since={today}&until={yesterday}")
    assert answer.status_code == 400 and "before its end" in root.page
    answer = root.get("/admin/history?path=Finance")
    assert answer.status_code == 400 and "must start with" in root.page
    assert root.get("/admin/history.csv?since=yesterday").status_code == 400


def test_history_pages_hold_fifty_events_newest_first(office: DriveApp) -> None:
    _events(office, [{"user": "pat", "action": "create", "path": f"/f{i:03}"}
                     for i in range(120)])
    root = _signed_in(office, "root")
    root.get("/admin/history?user=pat")
    first = _rows_of(root.page)
    assert len(first) == 50 and "/f119" in first[0] and "/f070" in first[-1]
    assert "120 events" in root.page and 'rel="next"' in root.page
    root.get("/admin/history?user=pat&page=3")
    third = _rows_of(root.page)
    assert len(third) == 20 and "/f019" in third[0] and "/f000" in third[-1]
    assert 'rel="next"' not in root.page and 'rel="prev"' in root.page


def test_csv_export_holds_exactly_the_filtered_events_with_formulas_defused(
    office: DriveApp,
) -> None:
    _events(office, [
        {"user": "olga", "action": "create", "path": "/Finance/a.txt"},
        {"user": "olga", "action": "delete", "path": "/Finance/a.txt"},
        {"user": "=HYPERLINK(\"http://x\")", "action": "login", "outcome": "refused"},
    ])
    root = _signed_in(office, "root")
    answer = root.get("/admin/history.csv?user=olga")
    assert answer.status_code == 200 and answer.mimetype == "text/csv"
    assert answer.headers["Content-Disposition"].startswith("attachment; filename=davdrive-")
    rows = list(csv.DictReader(io.StringIO(root.page)))
    assert [(r["action"], r["path"]) for r in rows] == [("delete", "/Finance/a.txt"),
                                                         ("create", "/Finance/a.txt")]
    root.get("/admin/history.csv?action=login&user=" + "=HYPERLINK(\"http://x\")")
    rows = list(csv.DictReader(io.StringIO(root.page)))
    assert [r["user"] for r in rows] == ["'=HYPERLINK(\"http://x\")"]


def test_csv_export_is_every_event_not_one_page(office: DriveApp) -> None:
    _events(office, [{"user": "pat", "action": "create", "path": f"/f{i}"} for i in range(130)])
    root = _signed_in(office, "root")
    root.get("/admin/history.csv")
    rows = list(csv.DictReader(io.StringIO(root.page)))
    with office.runtime.sessions() as session:
        total = session.scalar(select(func.count()).select_from(AuditEvent))
    assert len(rows) == total and total > 130  # the sign-in events too


def _stat(session: object, login: str, day: dt.date, interface: str, **counts: int) -> None:
    session.add(LoginStat(login=login, day=day, interface=interface,  # type: ignore[attr-defined]
                          **{"successes": 0, "failures": 0, "requests": 0, "bytes_in": 0,
                             "bytes_out": 0, **counts}))


def _bars(svg: str) -> dict[str, int]:
    return {day: int(n) for day, n in re.findall(r"<title>(\d{4}-\d\d-\d\d): (\d+)</title>", svg)}


def test_statistics_show_totals_and_charts_per_user_and_overall(office: DriveApp) -> None:
    today = dt.date.today()
    two_days_ago = today - dt.timedelta(days=2)
    with office.runtime.sessions() as session:
        _stat(session, "alice", two_days_ago, "dav", successes=2, requests=40,
              bytes_in=2048, bytes_out=10)
        _stat(session, "alice", today, "admin", successes=1, requests=7)
        _stat(session, "bob", two_days_ago, "dav", failures=3, requests=5)
        _stat(session, "bob", today - dt.timedelta(days=40), "dav", requests=1000)  # too old
        _stat(session, "", today, "dav", failures=1, requests=1)  # not signed in
        session.commit()
    root = _signed_in(office, "root")
    root.get("/admin/statistics?days=7")
    page = root.page
    row = re.search(r'<tr id="totals-alice-dav">(.*?)</tr>', page, re.S)
    assert row and re.findall(r'class="num">([^<]*)<', row.group(1))[:3] == ["2", "0", "40"]
    assert 'id="totals-bob-dav"' in page
    footer = re.search(r'<tr id="totals-all">(.*?)</tr>', page, re.S)
    assert footer and re.findall(r'class="num">([^<]*)<', footer.group(1))[:3] == ["3", "4", "53"]
    charts = re.findall(r'<figure class="chart">(.*?)</figure>', page, re.S)
    assert len(charts) == 1  # overall only, until a user is picked
    overall = _bars(charts[0])
    assert len(overall) == 7 and overall[two_days_ago.isoformat()] == 45
    assert overall[today.isoformat()] == 8
    sparks = re.findall(r'<svg[^>]*class="spark".*?</svg>', page, re.S)
    assert len(sparks) == 3  # nobody signed in, alice (once, over both of her rows), bob
    root.get("/admin/statistics?days=7&login=bob")
    charts = re.findall(r'<figure class="chart">(.*?)</figure>', root.page, re.S)
    assert len(charts) == 2 and "of bob" in charts[1]
    bob = _bars(charts[1])
    assert bob[two_days_ago.isoformat()] == 5 and bob[today.isoformat()] == 0


def test_statistics_count_the_trash_and_the_versions(office: DriveApp) -> None:
    rt = office.runtime
    with rt.sessions() as session:
        drive = Drive(session, rt.blobs, SYSTEM, rt.drive_options)
        folder, _ = node_admin.make_folders(session, drive, "/Minutes")
        doomed = put_file(drive, folder, "doomed.txt", b"12345")
        put_file(drive, folder, "kept.txt", b"first content")
        put_file(drive, folder, "kept.txt", b"second")
        drive.delete(doomed)
        session.commit()
    root = _signed_in(office, "root")
    root.get("/admin/statistics")

    def figures(row_id: str) -> list[str]:
        row = re.search(rf'<tr id="{row_id}">(.*?)</tr>', root.page, re.S)
        assert row, row_id
        return re.findall(r'class="num">([^<]*)<', row.group(1))

    assert figures("storage-trash") == ["1", "5 Bytes"]
    assert figures("storage-versions") == ["1", "13 Bytes"]
    assert figures("storage-live") == ["1", "6 Bytes"]
