"""A member's whole visit to the web drive in Chromium (issue 15's "Done when").

Members of init's ``member`` category only read (documents = read, rule 5), so
the member who writes is vera, of a ``volunteer`` category (documents write,
may delete, no other right) with write on /Corner: there she uploads (all or
nothing per submit), downloads, takes a zip, makes, renames and deletes a
folder, which an administrator then finds in the trash. mary, an ordinary
member, is offered nothing in a folder she may only read, and what she forges
there is refused and changes nothing."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path
from typing import Any

import pytest
import requests

from davdrive import accounts, node_admin
from davdrive.models import Node
from davdrive.policy import SYSTEM
from davdrive.services import Drive
from davdrive.trash import list_trash
from tests.conftest import LiveServer, put_file
from tests.live.admin.conftest import shot
from tests.web.conftest import password_of

pytestmark = pytest.mark.live

MARY = ("mary", password_of("mary"))
VERA = ("vera", "vera-pass-phrase")


def _corner(site: LiveServer) -> None:
    """vera (volunteer) and /Corner, where volunteers write, holding a system file and
    a degree-3 file."""
    rt = site.app.runtime
    with rt.sessions() as session:
        accounts.add_category(session, "volunteer", documents="write", may_delete=True)
        accounts.add_user(session, rt.passwords, "vera", "volunteer", password=VERA[1])
        drive = Drive(session, rt.blobs, SYSTEM, rt.drive_options)
        corner, _ = node_admin.make_folders(session, drive, "/Corner")
        node_admin.set_folder_rights(session, corner, {"volunteer": "write"})
        put_file(drive, corner, "rules.txt", b"Be kind.")
        node_admin.node_set(session, put_file(drive, corner, "board.txt", b"board"),
                            min_degree=3)
        session.commit()


def _get(site: LiveServer, path: str, auth: tuple[str, str] = VERA) -> requests.Response:
    return requests.get(f"{site.url}/dav{path}", auth=auth, timeout=30)


def _node_count(site: LiveServer) -> int:
    with site.app.runtime.sessions() as session:
        return session.query(Node).count()


def test_a_member_uploads_downloads_zips_and_manages_her_folders(
    page_of: Any, site: LiveServer, tmp_path: Path
) -> None:
    _corner(site)
    files = {name: tmp_path / name for name in ("a.txt", "b.txt", "bad:name.txt")}
    for name, path in files.items():
        path.write_bytes(f"content of {name}".encode())
    page = page_of("vera", VERA[1])
    page.goto("/files/Corner")

    # three files in one submit, one refused by name: none stored
    page.set_input_files("#upload-files", [str(p) for p in files.values()])
    page.click("#upload-submit")
    refusals = page.inner_text("#upload-refusals")
    assert "Nothing was uploaded" in refusals and "bad:name.txt" in refusals
    assert "a.txt:" not in refusals
    for name in files:
        assert _get(site, f"/Corner/{name}").status_code == 404, name

    # the two good ones: stored and listed
    page.set_input_files("#upload-files", [str(files["a.txt"]), str(files["b.txt"])])
    page.click("#upload-submit")
    page.wait_for_selector("#upload-done")
    listed = set(page.locator("#listing tbody tr[data-name]").evaluate_all(
        "rows => rows.map(r => r.dataset.name)"))
    assert listed == {"a.txt", "b.txt", "rules.txt"}  # board.txt is above her degree
    assert _get(site, "/Corner/a.txt").content == b"content of a.txt"

    # download one, and the folder as a zip holding exactly what she may read
    with page.expect_download() as info:
        page.click("#listing >> text=b.txt")
    info.value.save_as(tmp_path / "got-b.txt")
    assert (tmp_path / "got-b.txt").read_bytes() == b"content of b.txt"
    with page.expect_download() as info:
        page.click("#download-zip")
    info.value.save_as(tmp_path / "corner.zip")
    with zipfile.ZipFile(io.BytesIO((tmp_path / "corner.zip").read_bytes())) as archive:
        entries = {n: archive.read(n) for n in archive.namelist()}
    assert entries == {"a.txt": b"content of a.txt", "b.txt": b"content of b.txt",
                       "rules.txt": b"Be kind."}

    # a folder: created, renamed, deleted to the trash
    page.fill("#new-folder-name", "Outings")
    page.click("#new-folder button")
    assert "Outings" in page.locator("#listing").inner_text()
    row = page.locator("#listing tbody tr[data-name='Outings']")
    row.locator("details.rename summary").click()
    row.locator("details.rename input[name=name]").fill("Outings 2026")
    row.locator("details.rename button").click()
    assert _get(site, "/Corner/Outings 2026/").status_code in (200, 405)
    row = page.locator("#listing tbody tr[data-name='Outings 2026']")
    row.locator("details.delete summary").click()
    row.locator("details.delete input[name=confirm]").check()
    row.locator("details.delete button").click()
    assert "trash" in page.inner_text("#done")
    assert page.locator("#listing tbody tr[data-name='Outings 2026']").count() == 0
    shot(page, "files-member")
    with site.app.runtime.sessions() as session:
        trash = list_trash(session, SYSTEM, retention_days=30)
    assert [(e.path, e.deleted_by) for e in trash] == [("/Corner/Outings 2026", "vera")]
    admin = page_of("root")
    admin.goto("/admin/trash")
    assert "/Corner/Outings 2026" in admin.inner_text("#trash")


def test_in_a_folder_she_may_only_read_a_member_is_offered_nothing_and_forges_nothing(
    page_of: Any, site: LiveServer
) -> None:
    page = page_of("mary")
    page.goto("/files/Minutes")
    assert page.locator("#listing tbody tr").count() == 1
    for control in ("#upload-form", "#new-folder", "td.actions", "details.action",
                    "a.action", "form.visibility"):
        assert page.locator(control).count() == 0, control
    token = page.locator("input[name=csrf_token]").first.get_attribute("value")
    before = _node_count(site)
    forged = {
        "/files/upload": None,
        "/files/new-folder": {"path": "/Minutes", "name": "Mine"},
        "/files/rename": {"path": "/Minutes/2026-11-assembly.txt", "name": "x.txt"},
        "/files/delete": {"path": "/Minutes/2026-11-assembly.txt", "confirm": "on"},
        "/files/visibility": {"path": "/Minutes/2026-11-assembly.txt",
                              "visibility": "private"},
        "/files/move": {"path": "/Minutes/2026-11-assembly.txt", "to": "/"},
    }
    for url, form in forged.items():
        if form is None:
            answer = page.request.post(url, multipart={
                "csrf_token": token, "path": "/Minutes",
                "files": {"name": "x.txt", "mimeType": "text/plain", "buffer": b"x"}})
        else:
            answer = page.request.post(url, form={"csrf_token": token, **form})
        assert answer.status in (403, 404), (url, answer.status)
    assert _node_count(site) == before
    assert _get(site, "/Minutes/2026-11-assembly.txt", MARY).status_code == 200
