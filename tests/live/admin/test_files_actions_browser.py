"""The web drive's actions in a real browser (issue 15), without JavaScript of ours:
an office user creates, renames and deletes a folder through the page (the delete
asks for a ticked box first), moves her file through the destination page, and the
deleted folder is in the trash for a document administrator. Screenshots of the
listing's actions and of the move page go to build/screenshots/."""

from __future__ import annotations

from typing import Any

import pytest
import requests

from tests.conftest import LiveServer
from tests.live.admin.conftest import shot
from tests.web.conftest import password_of

pytestmark = pytest.mark.live


def _names(page: Any) -> set[str]:
    return set(page.locator("#listing tbody tr[data-name]").evaluate_all(
        "rows => rows.map(r => r.dataset.name)"))


def _row(page: Any, name: str) -> Any:
    return page.locator(f"#listing tbody tr[data-name='{name}']")


def test_an_office_user_works_on_folders_and_moves_her_file_through_the_pages(
    page_of: Any, site: LiveServer
) -> None:
    page = page_of("olga")
    page.goto("/files/Minutes")
    page.fill("#new-folder-name", "Drafts")
    page.click("#new-folder button[type=submit]")
    assert page.locator("#done").inner_text() == "Folder 'Drafts' created."
    assert _names(page) == {"2026-11-assembly.txt", "Drafts"}
    assert _row(page, "2026-11-assembly.txt").locator("form, details, a.move").count() == 0

    drafts = _row(page, "Drafts")
    drafts.locator("details.rename summary").click()
    drafts.locator("details.rename input[name=name]").fill("Drafts 2026")
    drafts.locator("details.rename button[type=submit]").click()
    assert page.locator("#done").inner_text() == "Renamed 'Drafts' to 'Drafts 2026'."
    assert _names(page) == {"2026-11-assembly.txt", "Drafts 2026"}

    answer = requests.put(f"{site.url}/dav/Minutes/report.txt", data=b"olga's report",
                          auth=("olga", password_of("olga")), timeout=30)
    assert answer.status_code == 201
    page.reload()
    _row(page, "report.txt").locator("details.delete summary").click()
    shot(page, "files-actions")
    _row(page, "report.txt").locator("a.move").click()
    assert page.locator("h1").inner_text() == "Move file report.txt"
    destination = page.locator("#destinations tr[data-name='Drafts 2026']")
    assert destination.locator("button.move-here").count() == 1
    shot(page, "files-move")
    destination.locator("button.move-here").click()
    assert page.url.split("#")[0].startswith(f"{site.url}/files/Minutes/Drafts%202026?")
    assert page.locator("#done").inner_text() == "Moved 'report.txt' to /Minutes/Drafts 2026."
    assert _names(page) == {"report.txt"}

    page.goto("/files/Minutes")
    folder = _row(page, "Drafts 2026")
    folder.locator("details.delete summary").click()
    folder.locator("details.delete button[type=submit]").click()  # the box is not ticked
    assert "Drafts 2026" in _names(page)  # the browser asks for the box; nothing sent
    folder.locator("details.delete input[name=confirm]").check()
    folder.locator("details.delete button[type=submit]").click()
    assert page.locator("#done").inner_text() == (
        "'Drafts 2026' went to the trash. Document administrators can restore it from "
        "there within 30 days.")
    assert _names(page) == {"2026-11-assembly.txt"}

    admin = page_of("root")
    admin.goto("/admin/trash")
    entry = admin.locator("#trash tbody tr", has_text="/Minutes/Drafts 2026")
    assert entry.count() == 1
    assert "olga" in entry.inner_text()
