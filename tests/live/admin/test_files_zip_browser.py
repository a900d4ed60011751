"""The web drive's folder zip and search in a real browser (fixtures in this folder's
conftest): a member downloads a folder through its page and gets exactly the files
she may read (DESIGN 3), the same as her WebDAV client reads; the search finds what
she sees and nothing hidden."""

from __future__ import annotations

import zipfile
from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote

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

# /Minutes as the site fixture and this test fill it: (bytes, why mary may not read it)
MINUTES: dict[str, tuple[bytes, str | None]] = {
    "2026-11-assembly.txt": (b"The assembly met.", None),
    "board.txt": (b"board only", "degree 3 > mary's degree 1"),
    "note.txt": (b"olga's note", "olga's private file"),
    "2024/assembly-2024.txt": (b"Met in June.", None),
    "2024/Caf\u00e9 menu.txt": ("cr\u00e8me".encode(), None),
}


def _fill(site: LiveServer) -> None:
    rt = site.app.runtime
    with rt.sessions() as session:
        drive = Drive(session, rt.blobs, SYSTEM, rt.drive_options)
        minutes = node_admin.resolve_path(session, "/Minutes")
        node_admin.node_set(session, put_file(drive, minutes, "board.txt",
                                              MINUTES["board.txt"][0]), min_degree=3)
        node_admin.node_set(session, put_file(drive, minutes, "note.txt",
                                              MINUTES["note.txt"][0]),
                            visibility="private", owner_login="olga")
        year, _ = node_admin.make_folders(session, drive, "/Minutes/2024")
        for name in ("assembly-2024.txt", "Caf\u00e9 menu.txt"):
            put_file(drive, year, name, MINUTES[f"2024/{name}"][0])
        session.commit()


def _webdav_files(site: LiveServer, login: str, top: str) -> dict[str, bytes]:
    """What ``login``'s WebDAV client reads below ``top`` (PROPFIND Depth 1 per folder,
    GET per file), by path relative to it."""
    auth = (login, password_of(login))
    found: dict[str, bytes] = {}
    todo = [top.rstrip("/") + "/"]
    while todo:
        folder = todo.pop()
        answer = requests.request("PROPFIND", f"{site.url}/dav{quote(folder)}", auth=auth,
                                  headers={"Depth": "1"}, timeout=30)
        assert answer.status_code == 207
        for href in etree.fromstring(answer.content).iter("{DAV:}href"):
            path = unquote(href.text or "")[len("/dav"):]
            if path.rstrip("/") == folder.rstrip("/"):
                continue
            if path.endswith("/"):
                todo.append(path)
            else:
                got = requests.get(f"{site.url}/dav{quote(path)}", auth=auth, timeout=30)
                found[path[len(top.rstrip("/")) + 1:]] = got.content
    return found


def test_a_member_downloads_a_folder_as_zip_with_what_she_may_read(
    page_of: Any, site: LiveServer, tmp_path: Path
) -> None:
    _fill(site)
    page = page_of("mary")
    page.goto("/files/Minutes")
    shot(page, "files-folder")
    with page.expect_download() as info:
        page.click("#download-zip")
    download = info.value
    assert download.suggested_filename == "Minutes.zip"
    target = tmp_path / "Minutes.zip"
    download.save_as(target)
    with zipfile.ZipFile(target) as archive:
        files = {i.filename: archive.read(i) for i in archive.infolist() if not i.is_dir()}
        folders = {i.filename for i in archive.infolist() if i.is_dir()}
    assert files == {path: data for path, (data, hidden) in MINUTES.items() if hidden is None}
    assert folders == {"2024/"}
    assert files == _webdav_files(site, "mary", "/Minutes")


def _result_paths(page: Any) -> set[str]:
    rows = page.locator("#results tr[data-path]")
    return {rows.nth(i).get_attribute("data-path") for i in range(rows.count())}


def test_a_member_searches_names_and_sees_no_hidden_match(
    page_of: Any, site: LiveServer
) -> None:
    _fill(site)
    page = page_of("mary")
    page.goto("/files/")
    page.fill("#q", "ASSEMBLY")
    page.click("#search-go")
    assert _result_paths(page) == {"/Minutes/2026-11-assembly.txt",
                                   "/Minutes/2024/assembly-2024.txt"}
    page.fill("#q", "t")  # board.txt and note.txt match too, but she may not see them
    page.click("#search-go")
    readable = {f"/Minutes/{path}" for path, (_, hidden) in MINUTES.items()
                if hidden is None and "t" in path.rsplit("/", 1)[-1]}
    assert _result_paths(page) == {"/Minutes"} | readable
    assert "board" not in page.content() and "note.txt" not in page.content()
    shot(page, "files-search")
    page.click('#results tr[data-path="/Minutes/2024/assembly-2024.txt"] td:nth-child(2) a')
    assert page.url.endswith("/files/Minutes/2024")
