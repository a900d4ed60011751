"""The admin view in a real browser (fixtures in this folder's conftest): users, categories,
folders, view as, records, and who reaches what."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import requests

from davdrive import demo_files
from davdrive.models import Attachment, Record
from davdrive.server import DriveApp
from tests.conftest import LiveServer
from tests.live.admin.conftest import shot

pytestmark = pytest.mark.live

MULTISTATUS_NAME = "{DAV:}displayname"


def propfind_names(site: LiveServer, path: str, login: str, password: str) -> set[str]:
    from urllib.parse import unquote

    from lxml import etree

    answer = requests.request("PROPFIND", f"{site.url}/dav{path}", auth=(login, password),
                              headers={"Depth": "1"}, timeout=30)
    assert answer.status_code == 207, answer.text
    hrefs = etree.fromstring(answer.content).iter("{DAV:}href")
    names = {unquote(h.text or "").rstrip("/").rsplit("/", 1)[-1] for h in hrefs}
    return names - {path.rstrip("/").rsplit("/", 1)[-1]}


def test_admin_creates_category_and_user_gives_a_right_checks_view_as_then_user_lists(
    page_of: Any, site: LiveServer
) -> None:
    page = page_of("root")
    assert page.url.endswith("/admin/users")
    shot(page, "users")

    # a category: choir (documents read, no members right)
    page.goto("/admin/categories")
    row = page.locator("#category-new")
    row.locator("input[name=slug]").fill("choir")
    row.locator("input[name=label]").fill("Choir")
    row.locator("select[name=documents]").select_option("read")
    row.locator("button").click()
    assert "Category choir created." in page.inner_text(".done")
    assert page.locator("#category-choir").is_visible()
    shot(page, "categories")

    # a user in it
    page.goto("/admin/users/new")
    page.fill("#login", "carla")
    page.fill("#display_name", "Carla Singer")
    page.select_option("#category", "choir")
    page.fill("#degree", "1")
    page.fill("#password", "carla-sings-alto")
    page.click("#save-user")
    assert "User carla created." in page.inner_text(".done")
    assert page.locator("#user-carla").is_visible()

    # before any right, view as: /Minutes does not exist for carla
    page.goto("/admin/view-as?login=carla&path=/Minutes")
    assert "does not exist for carla" in page.inner_text("#exists")

    # the right: choir reads /Minutes
    page.goto("/admin/folders?path=/Minutes")
    page.select_option("#right-choir", "read")
    page.click("#save-rights")
    assert "Rights saved." in page.inner_text(".done")
    shot(page, "folders")

    page.goto("/admin/view-as?login=carla&path=/Minutes")
    assert "This item exists for carla." in page.inner_text("#exists")
    assert page.inner_text("#action-read td:nth-child(2)") == "yes"
    assert page.inner_text("#action-create td:nth-child(2)") == "no"
    listed = set(page.locator("#listing td.name").all_inner_texts())
    assert listed == {"2026-11-assembly.txt"}
    shot(page, "view-as")

    # and carla, over WebDAV, lists exactly that
    assert propfind_names(site, "/Minutes/", "carla", "carla-sings-alto") == listed


def _record_with_attachments(app: DriveApp, name: str) -> list[str]:
    with app.runtime.sessions() as session:
        record = session.query(Record).filter_by(name=name).one()
        return sorted(a.file_name for a in session.query(Attachment).filter_by(
            record_id=record.id))


def test_attachments_go_up_together_and_a_disguised_file_refuses_its_whole_submit(
    page_of: Any, site: LiveServer, tmp_path: Path, office: DriveApp  # noqa: F811
) -> None:
    photo = tmp_path / "portrait.jpg"
    photo.write_bytes(demo_files.JPEG_1X1)
    form = tmp_path / "membership-form.pdf"
    form.write_bytes(demo_files.pdf_with_text("Membership 2026"))
    letter = tmp_path / "letter.pdf"
    letter.write_bytes(demo_files.pdf_with_text("A letter"))
    disguised = tmp_path / "invoice.pdf"
    disguised.write_bytes(b"MZ\x90\x00" + b"\x00" * 200)  # a Windows program named .pdf

    page = page_of("olga")  # office: members write
    page.goto("/admin/records")
    page.select_option("#kind", "member")
    page.fill("#name", "Marie Curie")
    page.click("#add-record")
    page.set_input_files("#files", [str(photo), str(form)])
    page.click("#attach")
    assert "Attached:" in page.inner_text(".done")
    assert _record_with_attachments(office, "Marie Curie") == [
        "membership-form.pdf", "portrait.jpg"]
    shot(page, "record")

    blobs_before = sorted(p.name for p in office.runtime.settings.data_dir.rglob("*")
                          if p.is_file() and "blobs" in p.parts)
    page.set_input_files("#files", [str(letter), str(disguised)])
    page.click("#attach")
    refusals = page.inner_text("#refusals")
    assert "Nothing was attached" in refusals
    assert "invoice.pdf" in refusals and "not an allowed file type" in refusals
    assert "letter.pdf" not in refusals
    assert _record_with_attachments(office, "Marie Curie") == [
        "membership-form.pdf", "portrait.jpg"]
    blobs_after = sorted(p.name for p in office.runtime.settings.data_dir.rglob("*")
                         if p.is_file() and "blobs" in p.parts)
    assert blobs_after == blobs_before
    shot(page, "record-refused")


def test_member_reaches_only_the_web_drive_and_my_account(page_of: Any) -> None:
    page = page_of("mary")
    assert page.url.endswith("/files/")
    menu = page.locator("header nav a").all_inner_texts()
    assert menu == ["Files", "Connect", "My account"]
    page.goto("/admin/account")
    assert page.title() == "My account · davdrive"
    page.fill("#label", "phone")  # the app password form is on the page, not in its title
    page.click("#add-app-password")
    assert len(page.inner_text("#new-token")) >= 20
    shot(page, "account")
    answer = page.goto("/admin/users")
    assert answer.status == 403
    assert "not open to you" in page.inner_text("#error-message")


def test_office_without_config_never_sees_a_hidden_category_or_its_users(page_of: Any) -> None:
    page = page_of("olga")
    page.goto("/admin/categories")
    slugs = page.locator("#categories tbody tr td:first-child .badge").all_inner_texts()
    assert "former" not in slugs and "member" in slugs
    page.goto("/admin/users?q=fred")
    assert "fred" not in page.inner_text("#users")
    page.goto("/admin/users")
    assert "fred" not in page.inner_text("#users")
    assert page.goto("/admin/users/fred").status == 404
    admin = page_of("root")  # the same list, for an administrator, has fred
    admin.goto("/admin/users?q=fred")
    assert "fred" in admin.inner_text("#users")
