"""A folder downloaded as a zip, and the search by name (issue 15), through the WSGI app.

Rules (DESIGN 3-4): the zip of a folder holds exactly the files the user may read
below it (degree-hidden, others' private and excluded-type files absent, what a
pass-through folder leads to present), with their bytes; the search finds only
items the user sees, and nothing on the page (results, their number, "showing the
first") depends on hidden matches; a folder the user may not see is a 404, as a
missing one. The zip is streamed: memory stays far below the archive's size.
"""

from __future__ import annotations

import io
import re
import tracemalloc
import zipfile
from pathlib import Path
from urllib.parse import quote, unquote

import pytest
from lxml import etree
from werkzeug.test import Client

from davdrive import node_admin, records
from davdrive.folder_archive import ArchiveLimits
from davdrive.policy import SYSTEM
from davdrive.server import DriveApp
from davdrive.services import Drive
from tests.conftest import Dav, basic, put_file
from tests.web.conftest import Browserless, password_of
from tests.web.drive_trees import drive_tree
from web.files import zip_views

# Every file of the tree below, with its bytes and, per rule, who may not read it.
HIDDEN_BY_DEGREE = "degree 3 > the user's degree 1"
OLGAS_PRIVATE = "olga's private file"
TREASURY = "doc type treasury, excluded for members"
FILES: dict[str, tuple[bytes, str | None, str | None]] = {
    # path: (bytes, why mary may not read it, why olga may not read it)
    "Minutes/assembly.txt": (b"The assembly met on Monday.", None, None),
    "Minutes/board.txt": (b"x" * 40, HIDDEN_BY_DEGREE, HIDDEN_BY_DEGREE),
    "Minutes/note.txt": (b"mine", OLGAS_PRIVATE, None),
    "Minutes/assets.txt": (b"a hidden match", HIDDEN_BY_DEGREE, HIDDEN_BY_DEGREE),
    "Minutes/2024/assembly-2024.txt": (b"Met in June.", None, None),
    "Minutes/2024/Caf\u00e9 menu.txt": ("Caf\u00e9 cr\u00e8me".encode(), None, None),
    "Minutes/2024/plan_100%.txt": (b"all of it", None, None),
    "Minutes/Secret/assembly-secret.txt": (b"shh", HIDDEN_BY_DEGREE, HIDDEN_BY_DEGREE),
    "Finance/budget.txt": (b"100", TREASURY, None),
    "Board/Public/agenda.txt": (b"1. welcome", None, None),
}
# Folders each user sees in their own right (/Board is pass-through for mary: her
# category has no right there, only on /Board/Public).
MARY_FOLDERS = {"Minutes/", "Minutes/2024/", "Minutes/Empty/", "Board/Public/"}
OLGA_FOLDERS = MARY_FOLDERS | {"Finance/", "Board/"}


def _tree(app: DriveApp) -> None:
    """``drive_tree``, plus /Minutes/assets.txt (degree 3), /Minutes/2024 (three files),
    /Minutes/Empty and /Minutes/Secret (degree 3, one file)."""
    drive_tree(app)
    rt = app.runtime
    with rt.sessions() as session:
        drive = Drive(session, rt.blobs, SYSTEM, rt.drive_options)
        minutes = node_admin.resolve_path(session, "/Minutes")
        node_admin.node_set(session, put_file(drive, minutes, "assets.txt",
                                              FILES["Minutes/assets.txt"][0]), min_degree=3)
        year, _ = node_admin.make_folders(session, drive, "/Minutes/2024")
        for name in ("assembly-2024.txt", "Caf\u00e9 menu.txt", "plan_100%.txt"):
            put_file(drive, year, name, FILES[f"Minutes/2024/{name}"][0])
        node_admin.make_folders(session, drive, "/Minutes/Empty")
        secret, _ = node_admin.make_folders(session, drive, "/Minutes/Secret")
        node_admin.node_set(session, secret, min_degree=3)
        put_file(drive, secret, "assembly-secret.txt", b"shh")
        session.commit()


def _readable(login: str, below: str = "") -> dict[str, bytes]:
    """From the rules table: the files ``login`` may read below ``below``, by path
    relative to it."""
    column = {"mary": 1, "olga": 2}[login]
    prefix = f"{below}/" if below else ""
    return {path[len(prefix):]: row[0] for path, row in FILES.items()
            if path.startswith(prefix) and row[column] is None}


def _folders(login: str, below: str = "") -> set[str]:
    prefix = f"{below}/" if below else ""
    folders = MARY_FOLDERS if login == "mary" else OLGA_FOLDERS
    return {f[len(prefix):] for f in folders if f.startswith(prefix) and f != prefix}


def _signed_in(app: DriveApp, login: str) -> Browserless:
    b = Browserless(app)
    assert b.sign_in(login).status_code == 303
    return b


def _zip_of(b: Browserless, path: str) -> zipfile.ZipFile:
    answer = b.client.get(f"/files{quote(path)}?download=zip")
    assert answer.status_code == 200, answer.get_data(as_text=True)
    assert answer.mimetype == "application/zip"
    return zipfile.ZipFile(io.BytesIO(answer.get_data()))


def _contents(archive: zipfile.ZipFile) -> tuple[dict[str, bytes], set[str]]:
    files = {i.filename: archive.read(i) for i in archive.infolist() if not i.is_dir()}
    return files, {i.filename for i in archive.infolist() if i.is_dir()}


def _webdav_files(app: DriveApp, login: str, path: str = "/") -> dict[str, bytes]:
    """What ``login`` reads below ``path`` over WebDAV: PROPFIND Depth 1 folder by
    folder, GET of every file (paths relative to ``path``)."""
    dav = Dav(Client(app), basic(login, password_of(login)))
    found: dict[str, bytes] = {}
    todo = [path.rstrip("/") + "/"]
    while todo:
        folder = todo.pop()
        answer = dav("PROPFIND", "/dav" + quote(folder), Depth="1")
        assert answer.status_code == 207
        for response in etree.fromstring(answer.data).iter("{DAV:}response"):
            href = unquote(response.findtext("{DAV:}href") or "")[len("/dav"):]
            if href.rstrip("/") == folder.rstrip("/"):
                continue
            if href.endswith("/"):
                todo.append(href)
            elif not href.startswith("/backoffice"):
                found[href[len(path.rstrip("/")) + 1:]] = dav("GET", "/dav" + quote(href)).data
    return found


# --- the zip ---------------------------------------------------------------------


def test_the_zip_of_the_root_holds_exactly_what_a_member_may_read(office: DriveApp) -> None:
    _tree(office)
    archive = _zip_of(_signed_in(office, "mary"), "/")
    files, folders = _contents(archive)
    assert files == _readable("mary")  # bytes equal; hidden, private, treasury absent
    assert "Board/Public/agenda.txt" in files  # what a pass-through folder leads to
    assert folders == _folders("mary")  # the empty folder too; not the pass-through one
    assert files == _webdav_files(office, "mary")  # the same as her WebDAV client reads


def test_the_zip_of_a_subfolder_has_paths_relative_to_it(office: DriveApp) -> None:
    _tree(office)
    mary = _signed_in(office, "mary")
    files, folders = _contents(_zip_of(mary, "/Minutes"))
    assert files == _readable("mary", "Minutes")
    assert folders == {"2024/", "Empty/"}
    files, folders = _contents(_zip_of(mary, "/Board"))  # a pass-through folder
    assert files == {"Public/agenda.txt": b"1. welcome"} and folders == {"Public/"}


def test_the_zip_follows_each_users_rights(office: DriveApp) -> None:
    _tree(office)
    files, folders = _contents(_zip_of(_signed_in(office, "olga"), "/"))
    assert files == _readable("olga")  # her private note and the treasury folder
    assert folders == _folders("olga")
    assert files == _webdav_files(office, "olga")


def test_the_zip_is_an_attachment_named_after_the_folder_with_utf8_names(
    office: DriveApp,
) -> None:
    _tree(office)
    mary = _signed_in(office, "mary")
    answer = mary.client.get("/files/Minutes?download=zip")
    assert answer.headers["Content-Disposition"] == "attachment; filename=Minutes.zip"
    assert answer.headers["X-Content-Type-Options"] == "nosniff"
    answer = mary.client.get("/files/?download=zip")
    assert answer.headers["Content-Disposition"] == "attachment; filename=Files.zip"
    archive = zipfile.ZipFile(io.BytesIO(answer.get_data()))
    menu = archive.getinfo("Minutes/2024/Caf\u00e9 menu.txt")
    assert menu.flag_bits & 0x800  # the name is UTF-8 (flag bit 11)
    assert menu.compress_type == zipfile.ZIP_STORED


def test_a_folder_a_member_may_not_see_has_no_zip(office: DriveApp) -> None:
    _tree(office)
    mary = _signed_in(office, "mary")
    for path in ("/Finance", "/Minutes/Secret", "/Nothing"):
        assert mary.get(f"/files{path}?download=zip").status_code == 404, path
        assert f"{path} does not exist." in mary.page
    assert mary.get("/files/Minutes/assembly.txt?download=zip").status_code == 400
    assert mary.get("/files/Minutes?download=tar").status_code == 400
    assert "download=zip" in mary.page


def test_a_zip_over_the_limits_is_refused_before_any_byte(
    office: DriveApp, monkeypatch: pytest.MonkeyPatch
) -> None:
    _tree(office)
    mary = _signed_in(office, "mary")
    entries = len(_readable("mary", "Minutes")) + len(_folders("mary", "Minutes"))
    monkeypatch.setattr(zip_views, "LIMITS", ArchiveLimits(entries=entries))
    assert mary.client.get("/files/Minutes?download=zip").status_code == 200
    monkeypatch.setattr(zip_views, "LIMITS", ArchiveLimits(entries=entries - 1))
    answer = mary.get("/files/Minutes?download=zip")
    assert answer.status_code == 413 and answer.mimetype == "text/html"
    assert f"more than {entries - 1} files and folders" in mary.page


def test_without_a_session_the_zip_asks_to_sign_in(office: DriveApp) -> None:
    _tree(office)
    answer = Browserless(office).get("/files/Minutes?download=zip")
    assert answer.status_code == 302 and "/admin/signin" in answer.headers["Location"]


def test_the_zip_is_streamed_in_bounded_memory(office: DriveApp, tmp_path: Path) -> None:
    """24 MiB of files: the answer comes in chunks, has no Content-Length, and the
    server's memory while sending it stays under 8 MiB (not the archive)."""
    rt = office.runtime
    block = bytes(range(256)) * 4096  # 1 MiB
    with rt.sessions() as session:
        drive = Drive(session, rt.blobs, SYSTEM, rt.drive_options)
        big, _ = node_admin.make_folders(session, drive, "/Big")
        for n in range(3):
            put_file(drive, big, f"part{n}.bin", block * 8)
        session.commit()
    mary = _signed_in(office, "mary")
    target = tmp_path / "Big.zip"
    tracemalloc.start()
    try:
        answer = mary.client.get("/files/Big?download=zip")  # not buffered
        assert "Content-Length" not in answer.headers
        chunks = 0
        with target.open("wb") as out:
            for chunk in answer.response:
                out.write(chunk)
                chunks += 1
        answer.close()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 8 * 1024 * 1024, f"peak {peak} bytes while streaming 24 MiB"
    assert chunks >= 24
    with zipfile.ZipFile(target) as archive:
        assert {i.filename: archive.read(i) == block * 8 for i in archive.infolist()} == {
            "part0.bin": True, "part1.bin": True, "part2.bin": True}


def test_the_folder_page_offers_the_zip_and_the_search_but_not_in_the_back_office(
    office: DriveApp,
) -> None:
    _tree(office)
    with office.runtime.sessions() as session:
        records.add_record(session, "member", "Mary Member", "mary", actor=SYSTEM)
        session.commit()
    mary = _signed_in(office, "mary")
    mary.get("/files/Minutes")
    assert 'href="/files/Minutes?download=zip"' in mary.page
    assert "Download this folder as zip" in mary.page
    assert re.search(r'<form[^>]*id="search"[^>]*action="/files/Minutes"', mary.page)
    mary.get("/files/backoffice/members")
    assert "download=zip" not in mary.page and 'id="search"' not in mary.page
    assert mary.get("/files/backoffice/members?download=zip").status_code == 400
    assert mary.get("/files/backoffice/members?q=a").status_code == 400
    assert mary.get("/files/backoffice/products/Nope?download=zip").status_code == 404


# --- the search ------------------------------------------------------------------


def _hits(page: str) -> set[str]:
    return set(re.findall(r'<tr class="(?:folder|file)" data-path="([^"]*)"', page))


def _summary(page: str) -> str:
    found = re.search(r'<p[^>]*id="search-summary">(.*?)</p>', page, re.S)
    assert found, "no search summary on the page"
    return found.group(1)


def test_search_finds_what_a_member_sees_and_nothing_hidden(office: DriveApp) -> None:
    _tree(office)
    mary = _signed_in(office, "mary")
    assert mary.get("/files/?q=ass").status_code == 200
    # assets.txt and Secret/assembly-secret.txt match too, but degree 3 hides them
    assert _hits(mary.page) == {"/Minutes/assembly.txt", "/Minutes/2024/assembly-2024.txt"}
    assert "assets" not in mary.page and "secret" not in mary.page.lower()
    assert _summary(mary.page).startswith("2 items ")
    mary.get("/files/Minutes/2024?q=ASS")  # below the folder only; any case
    assert _hits(mary.page) == {"/Minutes/2024/assembly-2024.txt"}


def test_search_results_differ_by_the_users_rights(office: DriveApp) -> None:
    _tree(office)
    for login in ("mary", "olga"):
        b = _signed_in(office, login)
        b.get("/files/?q=.TXT")
        assert _hits(b.page) == {"/" + p for p in _readable(login)}, login
    olga = _signed_in(office, "olga")
    olga.get("/files/?q=e")  # folders are found too
    assert {"/Finance", "/Minutes", "/Minutes/Empty"} <= _hits(olga.page)
    mary = _signed_in(office, "mary")
    mary.get("/files/?q=e")
    assert "/Finance" not in _hits(mary.page) and "/Minutes/Empty" in _hits(mary.page)
    assert "/Minutes/Secret" not in _hits(mary.page)


def test_search_results_link_to_their_place(office: DriveApp) -> None:
    _tree(office)
    mary = _signed_in(office, "mary")
    mary.get("/files/?q=caf\u00c9")  # Unicode case folded
    row = re.search(r'data-path="/Minutes/2024/Caf\u00e9 menu.txt">(.*?)</tr>', mary.page,
                    re.S)
    assert row, mary.page
    assert 'href="/files/Minutes/2024/Caf%C3%A9%20menu.txt"' in row.group(1)
    assert 'href="/files/Minutes/2024">/Minutes/2024<' in row.group(1)
    size = len(FILES["Minutes/2024/Caf\u00e9 menu.txt"][0])
    assert "Caf\u00e9 menu.txt" in row.group(1) and f">{size} Bytes<" in row.group(1)


def test_search_takes_wildcards_literally(office: DriveApp) -> None:
    _tree(office)
    mary = _signed_in(office, "mary")
    for text in ("%", "_1", "0%."):
        mary.get(f"/files/?q={quote(text)}")
        assert _hits(mary.page) == {"/Minutes/2024/plan_100%.txt"}, text


def test_search_shows_the_first_200_and_never_counts_hidden_matches(office: DriveApp) -> None:
    rt = office.runtime
    with rt.sessions() as session:
        drive = Drive(session, rt.blobs, SYSTEM, rt.drive_options)
        many, _ = node_admin.make_folders(session, drive, "/Many")
        for n in range(200):
            put_file(drive, many, f"item-{n:03}.txt", b"")
        for n in range(5):
            node_admin.node_set(session, put_file(drive, many, f"item-hidden-{n}.txt", b""),
                                min_degree=3)
        session.commit()
    mary = _signed_in(office, "mary")
    mary.get("/files/Many?q=item")
    assert len(_hits(mary.page)) == 200
    assert _summary(mary.page).startswith("200 items ")  # 205 match, she sees 200
    assert "Showing the first" not in mary.page
    root = _signed_in(office, "root")  # an administrator sees all 205
    root.get("/files/Many?q=item")
    assert len(_hits(root.page)) == 200
    assert _summary(root.page).startswith("Showing the first 200 items")


def test_an_empty_search_shows_a_hint_and_a_bad_one_is_refused(office: DriveApp) -> None:
    _tree(office)
    mary = _signed_in(office, "mary")
    for text in ("", "%20%20"):
        assert mary.get(f"/files/Minutes?q={text}").status_code == 200
        assert "Type part of a name" in _summary(mary.page) and _hits(mary.page) == set()
    assert mary.get("/files/?q=" + "a" * 256).status_code == 400
    assert "at most 255 characters" in mary.page
    assert mary.get("/files/?q=a%01b").status_code == 400
    assert mary.get("/files/Minutes/assembly.txt?q=a").status_code == 400


def test_search_in_a_folder_a_member_may_not_see_is_a_404(office: DriveApp) -> None:
    _tree(office)
    mary = _signed_in(office, "mary")
    for path in ("/Finance", "/Minutes/Secret", "/Nothing"):
        assert mary.get(f"/files{path}?q=a").status_code == 404, path
        assert f"{path} does not exist." in mary.page
