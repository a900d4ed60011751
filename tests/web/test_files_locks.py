"""The web drive respects WebDAV locks (a document open in an editor).

Rule (RFC 4918 section 7, DESIGN 6): while a live write lock covers an item, a
change by someone who does not hold its token is refused with 423 and changes
nothing. The browser never holds lock tokens, so every change the web drive
offers (rename, move, delete, private/shared, an upload over the file) is
refused under: a lock on the item, a depth-infinity lock on a folder above it,
and, for a folder moved or deleted with what it holds, a lock below it. Once
unlocked (or expired) the same change is done.
"""

from __future__ import annotations

import io

from werkzeug.test import Client

from davdrive import node_admin
from davdrive.lock_guard import lock_holder
from davdrive.server import DriveApp
from tests.conftest import Dav, basic
from tests.web.conftest import Browserless, password_of

LOCKINFO = ('<?xml version="1.0"?><D:lockinfo xmlns:D="DAV:"><D:lockscope><D:exclusive/>'
            '</D:lockscope><D:locktype><D:write/></D:locktype><D:owner>editor</D:owner>'
            '</D:lockinfo>')


def _olga_dav(app: DriveApp) -> Dav:
    return Dav(Client(app), basic("olga", password_of("olga")))


def _setup(app: DriveApp) -> Dav:
    """olga's /Café notes/ with Sub/ and 'plan (draft).txt'; returns olga's WebDAV."""
    dav = _olga_dav(app)
    assert dav("MKCOL", "/dav/Caf%C3%A9%20notes").status_code == 201
    assert dav("MKCOL", "/dav/Caf%C3%A9%20notes/Sub").status_code == 201
    assert dav("PUT", "/dav/Caf%C3%A9%20notes/plan%20(draft).txt", b"v1").status_code == 201
    return dav


def _lock(dav: Dav, url: str, depth: str = "0") -> str:
    answer = dav("LOCK", url, LOCKINFO, Content_Type="application/xml", Depth=depth)
    assert answer.status_code == 200, answer.data
    return answer.headers["Lock-Token"]


def _web(app: DriveApp) -> Browserless:
    b = Browserless(app)
    assert b.sign_in("olga").status_code == 303
    b.get("/files/Caf%C3%A9%20notes")
    return b


def _content(dav: Dav) -> bytes:
    return bytes(dav("GET", "/dav/Caf%C3%A9%20notes/plan%20(draft).txt").data)


PLAN = "/Café notes/plan (draft).txt"


def test_a_locked_file_is_neither_renamed_moved_deleted_reshared_nor_overwritten(
    office: DriveApp,
) -> None:
    dav = _setup(office)
    token = _lock(dav, "/dav/Caf%C3%A9%20notes/plan%20(draft).txt")
    web = _web(office)
    attempts = {
        "/files/rename": {"path": PLAN, "name": "plan.txt"},
        "/files/delete": {"path": PLAN, "confirm": "on"},
        "/files/visibility": {"path": PLAN, "visibility": "private"},
        "/files/move": {"path": PLAN, "to": "/Café notes/Sub"},
    }
    for url, form in attempts.items():
        answer = web.post(url, form)
        assert answer.status_code == 423, (url, answer.status_code)
        assert "locked" in web.page and "nothing was changed" in web.page, url
        web.get("/files/Caf%C3%A9%20notes")
    answer = web.post("/files/upload", {"path": "/Café notes",
                                        "files": (io.BytesIO(b"v2"), "plan (draft).txt")})
    assert answer.status_code == 423 and "locked" in web.page
    assert _content(dav) == b"v1"
    listed = dav("PROPFIND", "/dav/Caf%C3%A9%20notes/", Depth="1").data
    assert b"plan%20(draft).txt" in listed or b"plan (draft).txt" in listed
    assert dav("UNLOCK", "/dav/Caf%C3%A9%20notes/plan%20(draft).txt",
               Lock_Token=token).status_code == 204
    web.get("/files/Caf%C3%A9%20notes")
    assert web.post("/files/upload", {"path": "/Café notes",
                                      "files": (io.BytesIO(b"v2"), "plan (draft).txt")}
                    ).status_code == 303
    assert _content(dav) == b"v2"


def test_a_deep_lock_above_and_a_lock_below_protect_what_they_cover(office: DriveApp) -> None:
    dav = _setup(office)
    token = _lock(dav, "/dav/Caf%C3%A9%20notes/", depth="infinity")
    web = _web(office)
    assert web.post("/files/rename", {"path": PLAN, "name": "x.txt"}).status_code == 423
    dav("UNLOCK", "/dav/Caf%C3%A9%20notes/", Lock_Token=token)
    _lock(dav, "/dav/Caf%C3%A9%20notes/plan%20(draft).txt")
    web = Browserless(office)
    web.sign_in("root")
    web.get("/files/")
    answer = web.post("/files/delete", {"path": "/Café notes", "confirm": "on"})
    assert answer.status_code == 423 and "something it holds" in web.page
    with office.runtime.sessions() as session:
        assert node_admin.resolve_path(session, "/Café notes/Sub") is not None
    web.get("/files/Caf%C3%A9%20notes")
    assert web.post("/files/rename", {"path": "/Café notes/Sub", "name": "Other"}
                    ).status_code == 303  # a sibling of the locked file is free


def test_an_expired_lock_no_longer_holds(office: DriveApp) -> None:
    dav = _setup(office)
    _lock(dav, "/dav/Caf%C3%A9%20notes/plan%20(draft).txt")
    mount = office.settings["dav.mount"]
    with office.runtime.sessions() as session:
        assert lock_holder(session, mount, PLAN) == "olga"
        assert lock_holder(session, mount, PLAN, now=4_000_000_000.0) is None
        assert lock_holder(session, mount, "/Café notes") is None  # depth 0 on the file
        assert lock_holder(session, mount, "/Café notes", below=True) == "olga"
