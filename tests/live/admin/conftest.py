"""Chromium through Playwright for the admin view's tests: Debian's browser, never a
download, against the live server; screenshots go to build/screenshots/ (not
committed)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from davdrive import node_admin
from davdrive.policy import SYSTEM
from davdrive.server import DriveApp
from davdrive.services import Drive
from tests.conftest import LiveServer, put_file, serving, unavailable
from tests.web.conftest import office, password_of  # noqa: F401  (a fixture)

CHROMIUM = "/usr/bin/chromium"
ROOT = Path(__file__).resolve().parents[3]
SHOTS = ROOT / "build" / "screenshots"


@pytest.fixture(scope="module")
def chromium() -> Iterator[Any]:
    if not os.path.exists(CHROMIUM):
        unavailable("chromium is not installed (apt-get install chromium)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        unavailable("playwright is not installed (pip install -e '.[test]')")
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True)
        yield browser
        browser.close()


@pytest.fixture
def site(office: DriveApp) -> Iterator[LiveServer]:  # noqa: F811
    """The office drive with /Minutes (one file in it), served live."""
    runtime = office.runtime
    with runtime.sessions() as session:
        drive = Drive(session, runtime.blobs, SYSTEM, runtime.drive_options)
        folder, _ = node_admin.make_folders(session, drive, "/Minutes")
        put_file(drive, folder, "2026-11-assembly.txt", b"The assembly met.")
        session.commit()
    with serving(office) as server:
        yield server


@pytest.fixture
def page_of(chromium: Any, site: LiveServer) -> Iterator[Any]:
    contexts = []

    def open_page(login: str, password: str | None = None) -> Any:
        context = chromium.new_context(base_url=site.url)
        contexts.append(context)
        page = context.new_page()
        page.goto("/admin/")
        page.fill("#login", login)
        page.fill("#password", password or password_of(login))
        page.click("#signin")
        return page

    yield open_page
    for context in contexts:
        context.close()


def shot(page: Any, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)
