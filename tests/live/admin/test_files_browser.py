"""The members' web drive in a real browser (issue 15): what a member sees is exactly
their WebDAV listing, downloads give the stored bytes, and the pages read on a
phone. Screenshots at desktop and phone widths go to build/screenshots/."""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import unquote

import pytest
import requests
from lxml import etree

from davdrive import node_admin
from davdrive.policy import SYSTEM
from davdrive.services import Drive
from tests.conftest import LiveServer, put_file
from tests.live.admin.conftest import shot
from tests.web.conftest import password_of

pytestmark = pytest.mark.live

PHONE = {"width": 390, "height": 844}


def _tree(site: LiveServer) -> None:
    """/Minutes (the fixture's file; board.txt degree 3; olga's private note),
    /Board (members none) holding /Board/Public (members read) with agenda.txt."""
    rt = site.app.runtime
    with rt.sessions() as session:
        drive = Drive(session, rt.blobs, SYSTEM, rt.drive_options)
        minutes = node_admin.resolve_path(session, "/Minutes")
        node_admin.node_set(session, put_file(drive, minutes, "board.txt", b"board only"),
                            min_degree=3)
        node_admin.node_set(session, put_file(drive, minutes, "note.txt", b"olga's"),
                            visibility="private", owner_login="olga")
        public, _ = node_admin.make_folders(session, drive, "/Board/Public")
        node_admin.set_folder_rights(session, node_admin.resolve_path(session, "/Board"),
                                     {"member": "none"})
        node_admin.set_folder_rights(session, public, {"member": "read"})
        put_file(drive, public, "agenda.txt", b"1. welcome\n2. accounts\n")
        session.commit()


def _propfind(site: LiveServer, login: str, path: str) -> set[str]:
    answer = requests.request("PROPFIND", f"{site.url}/dav{path}", headers={"Depth": "1"},
                              auth=(login, password_of(login)), timeout=30)
    assert answer.status_code == 207
    hrefs = [unquote(h.text or "").rstrip("/") for h in
             etree.fromstring(answer.content).iter("{DAV:}href")]
    return {h.rsplit("/", 1)[-1] for h in hrefs[1:]}


def _listed(page: Any) -> set[str]:
    return set(page.locator("#listing tbody tr[data-name]").evaluate_all(
        "rows => rows.map(r => r.dataset.name)"))


def test_a_member_sees_exactly_her_webdav_listing_and_downloads_the_bytes(
    page_of: Any, site: LiveServer, tmp_path: Path
) -> None:
    _tree(site)
    page = page_of("mary")
    assert page.url.endswith("/files/")
    for path in ("/", "/Minutes", "/Board"):
        page.goto(f"/files{path}")
        assert _listed(page) == _propfind(site, "mary", path), path
    page.goto("/files/Minutes")
    assert _listed(page) == {"2026-11-assembly.txt"}  # degree 3 and a private note absent
    page.goto("/files/Board")
    assert _listed(page) == {"Public"}  # pass-through: only the way to what she may read
    shot(page, "files-desktop")

    page.click("#listing >> text=Public")
    with page.expect_download() as info:
        page.click("#listing >> text=agenda.txt")
    saved = tmp_path / "agenda.txt"
    info.value.save_as(saved)
    assert info.value.suggested_filename == "agenda.txt"
    assert saved.read_bytes() == b"1. welcome\n2. accounts\n"
    assert page.goto("/files/Minutes/board.txt").status == 404


def test_the_file_pages_read_on_a_phone(chromium: Any, site: LiveServer) -> None:
    _tree(site)
    context = chromium.new_context(base_url=site.url, viewport=PHONE, is_mobile=True)
    try:
        page = context.new_page()
        page.goto("/files/Minutes")
        page.fill("#login", "olga")
        page.fill("#password", password_of("olga"))
        page.click("#signin")
        assert page.url.endswith("/files/Minutes")
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= PHONE["width"]  # nothing wider than the screen: no sideways scrolling
        row = page.locator("#listing tbody tr[data-name='note.txt']")
        box = row.bounding_box()
        assert box is not None and box["width"] <= PHONE["width"]
        assert row.locator("td[data-label=Size]").is_visible()
        shot(page, "files-phone")
    finally:
        context.close()
