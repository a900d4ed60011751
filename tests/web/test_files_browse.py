"""The web drive's listing and downloads (issue 15), through the WSGI app.

Rules (DESIGN 3-4, 6): a folder lists exactly what the same user's PROPFIND
lists (pass-through folders included; degree-hidden, excluded-type and others'
private items absent) and a path they may not see is a 404; a file downloads
as an attachment, never sniffed; the back-office branch is read-only, with
record names; a browser is sent from / and from a WebDAV URL to the same place
in the web drive, a WebDAV client never is.
"""

from __future__ import annotations

import re
from urllib.parse import unquote

from lxml import etree
from werkzeug.test import Client

from davdrive import records
from davdrive.policy import SYSTEM
from davdrive.server import DriveApp
from tests.conftest import Dav, basic
from tests.web.conftest import Browserless, password_of
from tests.web.drive_trees import drive_tree

NAVIGATE = {"Accept": "text/html,application/xhtml+xml", "Sec-Fetch-Mode": "navigate"}


def _propfind_names(app: DriveApp, login: str, path: str) -> set[str]:
    dav = Dav(Client(app), basic(login, password_of(login)))
    answer = dav("PROPFIND", f"/dav{path}", Depth="1")
    assert answer.status_code == 207
    hrefs = [unquote(h.text or "").rstrip("/") for h in
             etree.fromstring(answer.data).iter("{DAV:}href")]
    return {h.rsplit("/", 1)[-1] for h in hrefs[1:]}


def _listed(page: str) -> set[str]:
    return set(re.findall(r'<tr class="(?:folder|file)" data-name="([^"]*)"', page))


def _signed_in(app: DriveApp, login: str) -> Browserless:
    b = Browserless(app)
    assert b.sign_in(login).status_code == 303
    return b


def test_a_member_lists_exactly_what_their_propfind_lists(office: DriveApp) -> None:
    drive_tree(office)
    mary = _signed_in(office, "mary")
    for path in ("/", "/Minutes", "/Board"):
        assert mary.get(f"/files{path}").status_code == 200, path
        assert _listed(mary.page) == _propfind_names(office, "mary", path), path
    mary.get("/files/Minutes")
    assert _listed(mary.page) == {"assembly.txt"}  # degree 3 and olga's private are absent
    mary.get("/files/Board")
    assert _listed(mary.page) == {"Public"}  # a pass-through folder
    mary.get("/files/")
    assert "Finance" not in _listed(mary.page)  # treasury is excluded for members


def test_what_a_member_may_not_see_is_a_404(office: DriveApp) -> None:
    drive_tree(office)
    mary = _signed_in(office, "mary")
    for path in ("/Finance", "/Finance/budget.txt", "/Minutes/board.txt",
                 "/Minutes/note.txt", "/Nothing"):
        assert mary.get(f"/files{path}").status_code == 404, path
        message = re.search(r'<p class="error-message"[^>]*>(.*?)</p>', mary.page, re.S)
        assert message and message.group(1).strip() == f"{path} does not exist.", path


def test_a_download_is_an_unsniffed_attachment_with_the_bytes(office: DriveApp) -> None:
    drive_tree(office)
    mary = _signed_in(office, "mary")
    answer = mary.get("/files/Minutes/assembly.txt")
    assert answer.status_code == 200
    assert answer.get_data() == b"The assembly met on Monday."
    assert answer.headers["Content-Disposition"] == "attachment; filename=assembly.txt"
    assert answer.headers["X-Content-Type-Options"] == "nosniff"
    assert answer.headers["Content-Length"] == "27"


def test_listing_shows_classification_owner_and_sorts(office: DriveApp) -> None:
    drive_tree(office)
    admin = _signed_in(office, "root")  # an administrator sees every file there
    admin.get("/files/Minutes?sort=size&order=desc")
    assert re.findall(r'data-name="([^"]*)"', admin.page) == ["board.txt", "assembly.txt",
                                                               "note.txt"]
    board = re.search(r'data-name="board.txt">(.*?)</tr>', admin.page, re.S)
    assert board and "degree 3" in board.group(1)
    note = re.search(r'data-name="note.txt">(.*?)</tr>', admin.page, re.S)
    assert note and "private" in note.group(1) and ">olga<" in note.group(1)
    admin.get("/files/Minutes?sort=name")
    assert re.findall(r'data-name="([^"]*)"', admin.page) == ["assembly.txt", "board.txt",
                                                               "note.txt"]
    admin.get("/files/")
    finance = re.search(r'data-name="Finance">(.*?)</tr>', admin.page, re.S)
    assert finance and "treasury" in finance.group(1)


def test_the_back_office_branch_is_read_only_with_record_names(office: DriveApp) -> None:
    rt = office.runtime
    with rt.sessions() as session:
        records.add_record(session, "member", "Mary Member", "mary", actor=SYSTEM)
        session.commit()
    mary = _signed_in(office, "mary")
    mary.get("/files/")
    assert "backoffice" in _listed(mary.page)
    mary.get("/files/backoffice/members")
    assert "Mary Member" in mary.page and "read-only" in mary.page
    assert _listed(mary.page) == _propfind_names(office, "mary", "/backoffice/members")


def test_browsers_are_sent_to_the_web_drive_and_webdav_clients_never(office: DriveApp) -> None:
    drive_tree(office)
    client = Client(office)
    answer = client.get("/dav/Minutes/assembly.txt", headers=NAVIGATE)
    assert answer.status_code == 302
    assert answer.headers["Location"] == "/files/Minutes/assembly.txt"
    answer = client.get("/dav/Caf%C3%A9%20menu/", headers=NAVIGATE)
    assert answer.headers["Location"] == "/files/Caf%C3%A9%20menu/"
    assert client.get("/dav", headers=NAVIGATE).headers["Location"] == "/files/"
    # a WebDAV client (no Sec-Fetch-Mode, or signing in) gets WebDAV
    assert client.get("/dav/Minutes/assembly.txt").status_code == 401
    signed = client.get("/dav/Minutes/assembly.txt", headers={
        **NAVIGATE, "Authorization": basic("mary", password_of("mary"))})
    assert signed.status_code == 200 and signed.get_data() == b"The assembly met on Monday."
    assert client.open("/dav/", method="PROPFIND", headers=NAVIGATE).status_code == 401


def test_a_member_signing_in_lands_on_the_web_drive_and_comes_back_where_asked(
    office: DriveApp,
) -> None:
    drive_tree(office)
    b = Browserless(office)
    answer = b.get("/files/Minutes")
    assert answer.status_code == 302
    assert "/admin/signin?next=/files/Minutes" in answer.headers["Location"]
    b.get(answer.headers["Location"])
    answer = b.post("/admin/signin", {"login": "mary", "password": password_of("mary"),
                                      "next": "/files/Minutes"})
    assert answer.headers["Location"].endswith("/files/Minutes")
