"""The web drive's actions (issue 15), through the WSGI app's forms.

Rules (DESIGN 3-4, 6): new folder, rename, move, delete (to the trash) and the
private/shared switch are offered only where the policy allows them, and the
server refuses them anyway: the item is found again as the user (404 for what they
may not see), the drive's use case checks the rights (403 with the reason: rule 6,
only the creator changes an item; members only read) and the names as WebDAV does
(400, 409 next to the field); a refusal changes nothing; a forged POST without
the CSRF token is refused. A folder never moves into itself. What is deleted goes
to the trash, for document administrators to restore, and is gone over WebDAV;
a private file is gone from other users' PROPFIND. Each change is audited by its
use case, as over WebDAV.
"""

from __future__ import annotations

import re
from html import unescape
from urllib.parse import quote, unquote

from lxml import etree
from sqlalchemy import select
from werkzeug.test import Client

from davdrive import node_admin
from davdrive.accounts import actor_for, get_user
from davdrive.models import AuditEvent, Node
from davdrive.policy import SYSTEM
from davdrive.server import DriveApp
from davdrive.services import Drive
from davdrive.trash import list_trash
from tests.conftest import Dav, basic, put_file
from tests.web.conftest import Browserless, password_of

ACTION_URLS = {"/files/new-folder", "/files/rename", "/files/move", "/files/delete",
               "/files/visibility"}


def _tree(app: DriveApp) -> None:
    """/Minutes (init's root rights: office write, member read) holding the system's
    assembly.txt and board.txt (degree 3: nobody of degree 1 sees it); /Archive
    (office read); /Secret (office none)."""
    rt = app.runtime
    with rt.sessions() as session:
        drive = Drive(session, rt.blobs, SYSTEM, rt.drive_options)
        minutes, _ = node_admin.make_folders(session, drive, "/Minutes")
        put_file(drive, minutes, "assembly.txt", b"The assembly met on Monday.")
        node_admin.node_set(session, put_file(drive, minutes, "board.txt", b"board"),
                            min_degree=3)
        archive, _ = node_admin.make_folders(session, drive, "/Archive")
        node_admin.set_folder_rights(session, archive, {"office": "read"})
        secret, _ = node_admin.make_folders(session, drive, "/Secret")
        node_admin.set_folder_rights(session, secret, {"office": "none"})
        session.commit()


def _signed_in(app: DriveApp, login: str) -> Browserless:
    b = Browserless(app)
    assert b.sign_in(login).status_code == 303
    return b


def _dav(app: DriveApp, login: str) -> Dav:
    return Dav(Client(app), basic(login, password_of(login)))


def _put(app: DriveApp, login: str, path: str, data: bytes) -> None:
    assert _dav(app, login)("PUT", "/dav" + quote(path), data).status_code == 201


def _propfind(app: DriveApp, login: str, path: str) -> set[str] | None:
    """The names a Depth 1 PROPFIND lists at ``path`` for ``login``; None for a 404."""
    answer = _dav(app, login)("PROPFIND", "/dav" + quote(path), Depth="1")
    if answer.status_code == 404:
        return None
    assert answer.status_code == 207, answer.status_code
    hrefs = [unquote(h.text or "").rstrip("/") for h in
             etree.fromstring(answer.data).iter("{DAV:}href")]
    return {h.rsplit("/", 1)[-1] for h in hrefs[1:]}


def _nodes(app: DriveApp) -> list[tuple[object, ...]]:
    """Every node with where it is, its name, visibility and whether it is live."""
    with app.runtime.sessions() as session:
        return sorted((n.id, n.parent_id, n.name, n.visibility, n.deleted_at is None)
                      for n in session.scalars(select(Node)))


def _actions_of(app: DriveApp, login: str) -> list[tuple[str, str, str]]:
    with app.runtime.sessions() as session:
        return [(e.action, e.path, e.target_path) for e in session.scalars(
            select(AuditEvent).where(AuditEvent.user_login == login).order_by(AuditEvent.id))]


def _row(page: str, name: str) -> str:
    found = re.search(rf'<tr class="(?:folder|file)" data-name="{re.escape(name)}">(.*?)</tr>',
                      page, re.S)
    assert found, f"no row {name!r}"
    return found.group(1)


def _action_forms(page: str) -> set[str]:
    return set(re.findall(r'<form[^>]*action="([^"]+)"', page)) & ACTION_URLS


def _message(page: str, element_id: str) -> str:
    found = re.search(rf'id="{element_id}"[^>]*>(.*?)</', page, re.S)
    assert found, f"no #{element_id} on the page"
    return unescape(found.group(1)).strip()


def _submit(b: Browserless, url: str, data: dict[str, str]) -> object:
    """Submit the last page's form that posts to ``url`` with the hidden fields of
    ``data`` (its path, a destination), as a browser would: with the token that form
    carries, and ``data`` for the fields the user fills."""
    for action, body in re.findall(r'<form[^>]*action="([^"]+)"[^>]*>(.*?)</form>', b.page,
                                   re.S):
        hidden = dict(re.findall(r'type="hidden" name="([^"]+)" value="([^"]*)"', body))
        if action == url and all(unescape(hidden[k]) == v for k, v in data.items()
                                 if k in hidden) and "path" in hidden:
            assert hidden.get("csrf_token"), f"the {url} form carries no token"
            return b.post(url, data, token=hidden["csrf_token"])
    raise AssertionError(f"no {url} form for {data} on the page")


def _follow(b: Browserless, answer: object) -> str:
    location = answer.headers["Location"]  # type: ignore[attr-defined]
    assert answer.status_code == 303, b.page  # type: ignore[attr-defined]
    b.get(location.split("#")[0])
    return _message(b.page, "done")


def test_an_office_user_creates_renames_moves_and_deletes_to_the_trash(
    office: DriveApp,
) -> None:
    _tree(office)
    olga = _signed_in(office, "olga")
    olga.get("/files/Minutes")
    assert "/files/new-folder" in _action_forms(olga.page)  # she may create here
    assert _follow(olga, _submit(olga, "/files/new-folder", {"path": "/Minutes",
                                                             "name": "Drafts"})) \
        == "Folder 'Drafts' created."
    assert "Drafts" in (_propfind(office, "olga", "/Minutes") or set())
    row = _row(olga.page, "Drafts")  # hers: every action is offered
    assert "Rename" in row and "Move…" in row and "Delete" in row and "Make private" in row

    assert _follow(olga, _submit(olga, "/files/rename", {"path": "/Minutes/Drafts",
                                                         "name": "Drafts 2026"})) \
        == "Renamed 'Drafts' to 'Drafts 2026'."
    assert _propfind(office, "olga", "/Minutes") == {"assembly.txt", "Drafts 2026"}

    _put(office, "olga", "/Minutes/report.txt", b"olga's report")
    assert olga.get("/files/Minutes/report.txt?move=").status_code == 200
    assert 'value="/Minutes/Drafts 2026"' in _row_of_destination(olga.page, "Drafts 2026")
    answer = _submit(olga, "/files/move", {"path": "/Minutes/report.txt",
                                           "to": "/Minutes/Drafts 2026"})
    assert answer.headers["Location"].startswith("/files/Minutes/Drafts%202026?")
    assert _follow(olga, answer) == "Moved 'report.txt' to /Minutes/Drafts 2026."
    assert _propfind(office, "olga", "/Minutes/Drafts 2026") == {"report.txt"}
    assert _propfind(office, "olga", "/Minutes") == {"assembly.txt", "Drafts 2026"}

    olga.get("/files/Minutes")
    message = _follow(olga, _submit(olga, "/files/delete", {"path": "/Minutes/Drafts 2026",
                                                            "confirm": "on"}))
    assert message == ("'Drafts 2026' went to the trash. Document administrators can "
                       "restore it from there within 30 days.")
    assert "Drafts 2026" not in re.findall(r'data-name="([^"]*)"', olga.page)

    with office.runtime.sessions() as session:
        trash = list_trash(session, actor_for(get_user(session, "root")), retention_days=30)
    assert [(e.path, e.items, e.deleted_by) for e in trash] == [
        ("/Minutes/Drafts 2026", 2, "olga")]  # the folder and the file it held
    for login in ("olga", "root"):
        assert _propfind(office, login, "/Minutes/Drafts 2026") is None, login
        assert _propfind(office, login, "/Minutes") == {"assembly.txt"} | (
            {"board.txt"} if login == "root" else set()), login
    assert [a for a in _actions_of(office, "olga") if a[0] in ("mkcol", "move", "delete")] == [
        ("mkcol", "/Minutes/Drafts", ""),
        ("move", "/Minutes/Drafts", "/Minutes/Drafts 2026"),
        ("move", "/Minutes/report.txt", "/Minutes/Drafts 2026/report.txt"),
        ("delete", "/Minutes/Drafts 2026", ""),
    ]


def _row_of_destination(page: str, name: str) -> str:
    found = re.search(rf'<tr data-name="{re.escape(name)}">(.*?)</tr>', page, re.S)
    assert found, f"no destination {name!r}"
    return found.group(1)


def test_a_member_who_only_reads_is_offered_no_action(office: DriveApp) -> None:
    _tree(office)
    mary = _signed_in(office, "mary")
    assert mary.get("/files/Minutes").status_code == 200
    assert "assembly.txt" in re.findall(r'data-name="([^"]*)"', mary.page)
    assert _action_forms(mary.page) == set()
    assert "move=" not in mary.page and 'name="confirm"' not in mary.page
    assert "<details" not in mary.page and "<th>Actions</th>" not in mary.page
    mary.get("/files/")
    assert _action_forms(mary.page) == set() and "move=" not in mary.page


def test_forged_posts_of_a_member_are_refused_and_change_nothing(office: DriveApp) -> None:
    _tree(office)
    mary = _signed_in(office, "mary")
    mary.get("/files/Minutes")
    token = mary.token()  # her page's own token: only the rights stop her
    before = _nodes(office)
    forged = {
        "/files/new-folder": {"path": "/Minutes", "name": "Mine"},
        "/files/rename": {"path": "/Minutes/assembly.txt", "name": "renamed.txt"},
        "/files/move": {"path": "/Minutes/assembly.txt", "to": "/"},
        "/files/delete": {"path": "/Minutes/assembly.txt", "confirm": "on"},
        "/files/visibility": {"path": "/Minutes/assembly.txt", "visibility": "private"},
    }
    for url, form in forged.items():  # members read (documents=read): rule 5/6, 403
        answer = mary.post(url, form, token=token)
        assert answer.status_code == 403, (url, mary.page)
        assert _message(mary.page, "error-message").startswith("Not allowed"), url
    hidden = {  # what she may not see (degree 3) does not exist for her: 404
        "/files/rename": {"path": "/Minutes/board.txt", "name": "x.txt"},
        "/files/move": {"path": "/Minutes/board.txt", "to": "/"},
        "/files/delete": {"path": "/Minutes/board.txt", "confirm": "on"},
        "/files/visibility": {"path": "/Minutes/board.txt", "visibility": "private"},
        "/files/new-folder": {"path": "/Secret/Nothing", "name": "x"},
    }
    for url, form in hidden.items():
        answer = mary.post(url, form, token=token)
        assert answer.status_code == 404, (url, mary.page)
        assert _message(mary.page, "error-message").endswith("does not exist."), url
    assert mary.client.get("/files/Minutes/board.txt?move=").status_code == 404
    assert _nodes(office) == before


def test_only_the_creator_renames_a_file(office: DriveApp) -> None:
    _tree(office)
    _put(office, "olga", "/Minutes/mine.txt", b"olga's")
    olga = _signed_in(office, "olga")
    olga.get("/files/Minutes")
    assert "Rename" in _row(olga.page, "mine.txt")
    theirs = _row(olga.page, "assembly.txt")  # the system's: rule 6, not hers to change
    assert "<form" not in theirs and "<details" not in theirs and "move=" not in theirs
    before = _nodes(office)
    answer = olga.post("/files/rename", {"path": "/Minutes/assembly.txt", "name": "x.txt"})
    assert answer.status_code == 403
    assert "only the owner" in _message(olga.page, "error-message")
    for url, form in {"/files/move": {"path": "/Minutes/assembly.txt", "to": "/Minutes"},
                      "/files/delete": {"path": "/Minutes/assembly.txt", "confirm": "on"},
                      "/files/visibility": {"path": "/Minutes/assembly.txt",
                                            "visibility": "private"}}.items():
        olga.get("/files/Minutes")
        assert olga.post(url, form).status_code == 403, url
    assert _nodes(office) == before


def test_a_name_taken_or_invalid_is_refused_next_to_the_field(office: DriveApp) -> None:
    _tree(office)
    olga = _signed_in(office, "olga")
    olga.get("/files/Minutes")
    olga.post("/files/new-folder", {"path": "/Minutes", "name": "Drafts"})
    before = _nodes(office)
    olga.get("/files/Minutes")
    answer = olga.post("/files/new-folder", {"path": "/Minutes", "name": "ASSEMBLY.txt"})
    assert answer.status_code == 409  # names clash case-insensitively (DESIGN 6)
    assert _message(olga.page, "error-new_folder") == (
        "An item named 'assembly.txt' is already in this folder; choose another name. "
        "Nothing was changed.")
    assert 'value="ASSEMBLY.txt"' in olga.page  # what she typed, to correct it
    answer = olga.post("/files/new-folder", {"path": "/Minutes", "name": "board.txt"})
    assert answer.status_code == 409  # held by what she cannot see: rule 4's answer
    assert _message(olga.page, "error-new_folder") == (
        "The name 'board.txt' is not available in this folder.")
    answer = olga.post("/files/new-folder", {"path": "/Minutes", "name": "a:b"})
    assert answer.status_code == 400  # Windows-safe names, as over WebDAV
    assert "may not contain" in _message(olga.page, "error-new_folder")
    answer = olga.post("/files/new-folder", {"path": "/", "name": "backoffice"})
    assert answer.status_code == 409
    assert "reserved" in _message(olga.page, "error-new_folder")

    olga.get("/files/Minutes")
    answer = olga.post("/files/rename", {"path": "/Minutes/Drafts", "name": "assembly.txt"})
    assert answer.status_code == 409
    drafts = _row(olga.page, "Drafts")  # the reason in the row, its form left open
    assert "<details class=\"action rename\" open>" in drafts
    assert "already in this folder" in _message(drafts, "error-rename")
    answer = olga.post("/files/rename", {"path": "/Minutes/Drafts", "name": "x" * 300})
    assert answer.status_code == 400
    assert "longer than" in _message(_row(olga.page, "Drafts"), "error-rename")
    assert _nodes(office) == before


def test_a_folder_never_moves_into_itself(office: DriveApp) -> None:
    _tree(office)
    olga = _signed_in(office, "olga")
    olga.get("/files/Minutes")
    olga.post("/files/new-folder", {"path": "/Minutes", "name": "A"})
    olga.get("/files/Minutes/A")
    olga.post("/files/new-folder", {"path": "/Minutes/A", "name": "B"})
    before = _nodes(office)

    olga.get("/files/Minutes/A?move=")  # its own folder: the item itself is not offered
    assert "A" not in re.findall(r'<tr data-name="([^"]*)"', olga.page)
    assert olga.get("/files/Minutes/A?move=&to=/Minutes/A/B").status_code == 409
    assert "move-here" not in olga.page
    answer = olga.post("/files/move", {"path": "/Minutes/A", "to": "/Minutes/A/B"})
    assert answer.status_code == 409
    assert _message(olga.page, "move-error") == (
        "A folder cannot be moved into itself or into one of its subfolders; "
        "nothing was changed.")
    assert olga.post("/files/move", {"path": "/Minutes/A", "to": "/Minutes/A"}
                     ).status_code == 409
    assert _nodes(office) == before
    assert _propfind(office, "olga", "/Minutes/A") == {"B"}


def test_the_move_page_offers_only_folders_she_may_add_to(office: DriveApp) -> None:
    _tree(office)
    _put(office, "olga", "/Minutes/mine.txt", b"olga's")
    olga = _signed_in(office, "olga")
    assert olga.get("/files/Minutes/mine.txt?move=&to=/").status_code == 200
    listed = re.findall(r'<tr data-name="([^"]*)"', olga.page)
    assert listed == ["Archive", "Minutes"]  # /Secret (office none) is not there
    archive = _row_of_destination(olga.page, "Archive")  # office read: not hers to add to
    assert "move-here" not in archive and "you may not add here" in archive
    assert "where it is now" in _row_of_destination(olga.page, "Minutes")
    assert 'class="move-here">Move here, into Files<' in olga.page  # office write at /
    before = _nodes(office)
    answer = olga.post("/files/move", {"path": "/Minutes/mine.txt", "to": "/Archive"})
    assert answer.status_code == 403  # forged: no right to add there
    answer = olga.post("/files/move", {"path": "/Minutes/mine.txt", "to": "/Secret"})
    assert answer.status_code == 404  # a folder she may not see
    assert olga.get("/files/Minutes/mine.txt?move=&to=/Secret").status_code == 404
    assert _nodes(office) == before


def test_olga_makes_her_file_private_and_a_member_no_longer_sees_it(office: DriveApp) -> None:
    _tree(office)
    _put(office, "olga", "/Minutes/report.txt", b"olga's report")
    assert "report.txt" in (_propfind(office, "mary", "/Minutes") or set())
    olga = _signed_in(office, "olga")
    olga.get("/files/Minutes")
    assert _follow(olga, _submit(olga, "/files/visibility", {
        "path": "/Minutes/report.txt", "visibility": "private"})) == (
        "'report.txt' is now private: only its owner and those who manage its folder "
        "see it.")
    assert "Share" in _row(olga.page, "report.txt")  # the switch now offers the way back
    assert _propfind(office, "mary", "/Minutes") == {"assembly.txt"}
    mary = _signed_in(office, "mary")
    assert mary.get("/files/Minutes/report.txt").status_code == 404
    assert ("visibility", "/Minutes/report.txt", "") in _actions_of(office, "olga")


def test_deleting_needs_the_ticked_box_and_the_token(office: DriveApp) -> None:
    _tree(office)
    _put(office, "olga", "/Minutes/report.txt", b"olga's report")
    olga = _signed_in(office, "olga")
    olga.get("/files/Minutes")
    before = _nodes(office)
    answer = olga.post("/files/delete", {"path": "/Minutes/report.txt"})
    assert answer.status_code == 400
    assert _message(_row(olga.page, "report.txt"), "error-delete") == (
        "Tick the box to confirm; nothing was deleted.")
    for url, form in {"/files/delete": {"path": "/Minutes/report.txt", "confirm": "on"},
                      "/files/new-folder": {"path": "/Minutes", "name": "Forged"}}.items():
        assert olga.post(url, form, token="").status_code == 403, url  # no CSRF token
    assert _nodes(office) == before


def test_a_folder_named_like_an_action_still_opens(office: DriveApp) -> None:
    _tree(office)
    olga = _signed_in(office, "olga")
    olga.get("/files/")
    for name in ("move", "delete", "rename"):
        olga.post("/files/new-folder", {"path": "/", "name": name})
        assert olga.get(f"/files/{name}").status_code == 200, name
        assert f"<strong>{name}</strong></nav>" in olga.page, name  # the folder's page
