"""History, statistics, trash and versions in a real browser, after real WebDAV
traffic (issue 14).

Rules: the history lists what WebDAV users did, filtered as asked, and the CSV
export holds exactly the filtered events; the statistics count each user's
WebDAV requests and draw them per day, overall and for the user picked; the
trash restores what a DELETE removed, asking for a new name when the old one
is taken meanwhile; a version restores the bytes an overwrite replaced. The
screenshots (build/screenshots/history.png, statistics.png) are the ones docs/ shows.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
import time
from pathlib import Path
from typing import Any

import pytest
import requests
from sqlalchemy import select

from davdrive.models import LoginStat
from tests.conftest import LiveServer
from tests.live.admin.conftest import shot
from tests.web.conftest import password_of

pytestmark = pytest.mark.live

OLGA = ("olga", password_of("olga"))


def _dav(site: LiveServer, method: str, path: str, body: bytes = b"",
         auth: tuple[str, str] = OLGA, **headers: str) -> requests.Response:
    return requests.request(method, f"{site.url}/dav{path}", data=body, auth=auth,
                            headers=headers, timeout=30)


def _olga_works(site: LiveServer) -> None:
    """olga (office: write) files the budget, replaces it, drafts a note and deletes it,
    and moves her agenda to /Finance; someone mistypes her password once."""
    assert _dav(site, "MKCOL", "/Finance").status_code == 201
    assert _dav(site, "PUT", "/Finance/budget.txt", b"budget: 100").status_code == 201
    assert _dav(site, "PUT", "/Finance/budget.txt", b"budget: 250, revised").status_code == 204
    assert _dav(site, "PUT", "/Minutes/draft.txt", b"a draft").status_code == 201
    assert _dav(site, "DELETE", "/Minutes/draft.txt").status_code == 204
    assert _dav(site, "PUT", "/Minutes/agenda.txt", b"1. budget").status_code == 201
    moved = _dav(site, "MOVE", "/Minutes/agenda.txt",
                 Destination=f"{site.url}/dav/Finance/agenda.txt")
    assert moved.status_code == 201
    assert _dav(site, "PROPFIND", "/", auth=("olga", "wrong"), Depth="0").status_code == 401


def _flush_until_counted(site: LiveServer, login: str, requests_made: int) -> None:
    """Store the counts once ``login``'s WebDAV requests of today reach ``requests_made``:
    a request is counted when the server closes its answer, which may come just after
    the client has read it."""
    runtime = site.app.runtime
    deadline = time.monotonic() + 10
    while True:
        runtime.connection_stats.flush(runtime.sessions)
        with runtime.sessions() as session:
            counted = session.scalar(select(LoginStat.requests).where(
                LoginStat.login == login, LoginStat.interface == "dav",
                LoginStat.day == dt.date.today())) or 0
        if counted >= requests_made or time.monotonic() > deadline:
            return
        time.sleep(0.05)


def test_history_filters_paginates_and_exports_what_webdav_users_did(
    page_of: Any, site: LiveServer, tmp_path: Path
) -> None:
    _olga_works(site)
    page = page_of("root")
    page.click("header nav >> text=History")
    assert page.url.endswith("/admin/history")
    actions = page.locator("#events tbody tr td:nth-child(4)").all_inner_texts()
    assert {"login", "create", "delete", "move"} <= set(actions)

    page.fill("#user", "olga")
    page.fill("#path", "/Finance")
    page.click("#filter")
    rows = page.locator("#events tbody tr")
    seen = [(r.locator("td:nth-child(4)").inner_text(), r.locator("td:nth-child(5)").inner_text(),
             r.locator("td:nth-child(6)").inner_text()) for r in rows.all()]
    assert ("move", "/Minutes/agenda.txt", "/Finance/agenda.txt") in seen
    assert all(path.startswith("/Finance") or target.startswith("/Finance")
               for _, path, target in seen)
    assert not any(path == "/Minutes/draft.txt" for _, path, _ in seen)
    shot(page, "history")

    with page.expect_download() as download_info:
        page.click("#export-csv")
    exported = tmp_path / "history.csv"
    download_info.value.save_as(exported)
    lines = list(csv.DictReader(io.StringIO(exported.read_text(encoding="utf-8"))))
    assert len(lines) == len(seen)
    assert [(e["action"], e["path"], e["target"]) for e in lines] == seen  # same order
    assert {e["user"] for e in lines} == {"olga"}

    page.fill("#user", "")
    page.fill("#path", "")
    page.fill("#action", "login")
    page.click("#filter")
    outcomes = {(r.locator("td:nth-child(2)").inner_text(), r.locator("td:nth-child(7)")
                 .inner_text()) for r in page.locator("#events tbody tr").all()}
    assert ("olga", "refused") in outcomes and ("root", "ok") in outcomes


def test_statistics_count_webdav_requests_per_user_and_chart_them(
    page_of: Any, site: LiveServer
) -> None:
    _olga_works(site)
    for _ in range(5):
        assert _dav(site, "PROPFIND", "/Finance", Depth="1").status_code == 207
    _flush_until_counted(site, "olga", 12)
    page = page_of("root")
    page.click("header nav >> text=Statistics")
    olga = page.locator("#totals-olga-dav td.num").all_inner_texts()
    sign_ins, failures, requests_made = (int(v) for v in olga[:3])
    # 7 requests of _olga_works signed in, 5 PROPFIND; the mistyped one is a failure (its
    # request counts under no login)
    assert requests_made == 12 and failures == 1 and sign_ins >= 1
    bars = page.locator("#charts svg rect.bar")
    assert bars.count() == 30
    today = dt.date.today().isoformat()
    tips = page.locator("#charts svg rect.bar title").all_text_contents()
    today_total = int(next(t for t in tips if t.startswith(today)).split(": ")[1])
    total = int(page.locator("#totals-all td.num").nth(2).inner_text())
    assert today_total == total  # every request counted so far was today
    assert page.locator("#totals-olga-dav svg.spark rect.bar").count() == 30

    page.click("#totals-olga-dav >> text=olga")
    charts = page.locator("#charts figure")
    assert charts.count() == 2
    olga_tips = charts.nth(1).locator("rect.bar title").all_text_contents()
    olga_today = int(next(t for t in olga_tips if t.startswith(today)).split(": ")[1])
    dav_and_web = sum(int(v) for v in page.locator(
        "tr[id^=totals-olga-] td.num:nth-child(5)").all_inner_texts())
    assert olga_today == dav_and_web
    assert page.locator("#storage-trash td.num").first.inner_text() == "1"  # the draft
    assert page.locator("#storage-versions td.num").first.inner_text() == "1"  # the budget
    shot(page, "statistics")


def test_trash_restores_a_deleted_file_under_a_new_name_when_its_own_is_taken(
    page_of: Any, site: LiveServer
) -> None:
    _olga_works(site)
    assert _dav(site, "PUT", "/Minutes/draft.txt", b"another draft").status_code == 201
    page = page_of("root")
    page.click("header nav >> text=Trash")
    row = page.locator("#trash tbody tr", has_text="/Minutes/draft.txt")
    assert row.locator("td:nth-child(6)").inner_text() == "olga"
    row.locator("button.restore").click()
    row = page.locator("#trash tbody tr", has_text="/Minutes/draft.txt")
    assert "another name" in row.locator(".field-error").inner_text()
    assert _dav(site, "GET", "/Minutes/draft.txt").content == b"another draft"
    shot(page, "trash")
    row.locator("input[name=as_name]").fill("draft (first).txt")
    row.locator("button.restore").click()
    assert "Restored /Minutes/draft (first).txt" in page.inner_text(".done")
    assert _dav(site, "GET", "/Minutes/draft (first).txt").content == b"a draft"
    assert _dav(site, "GET", "/Minutes/draft.txt").content == b"another draft"
    assert "The trash is empty." in page.inner_text("#trash")


def test_a_previous_version_restores_the_bytes_an_overwrite_replaced(
    page_of: Any, site: LiveServer
) -> None:
    _olga_works(site)
    page = page_of("root")
    page.goto("/admin/folders?path=/Finance")
    page.locator("#children tr", has_text="budget.txt").locator("a.tag").click()
    versions = page.locator("#versions tbody tr")
    assert versions.count() == 1
    assert versions.first.locator("td:nth-child(2)").inner_text() == "olga"
    assert versions.first.locator("td:nth-child(3)").inner_text() == "11 Bytes"
    shot(page, "versions")
    versions.first.locator("button.restore").click()
    assert "is the current content again" in page.inner_text(".done")
    answer = _dav(site, "GET", "/Finance/budget.txt")
    assert answer.content == b"budget: 100"
    assert re.fullmatch(r'"?[0-9a-f]{64}"?', answer.headers["ETag"].removeprefix("W/"))
    assert page.locator("#versions tbody tr").count() == 1  # the revised budget, kept
    assert "20 Bytes" in page.inner_text("#versions")
