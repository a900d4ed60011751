"""The trash and previous versions over WebDAV (DESIGN 4).

Rules: a restore from the trash gives back, over WebDAV, the same bytes and
metadata (owner, classification, visibility, modification time, dead properties,
ETag), for a deleted folder and for a file deleted on its own; a restored version
is served as the file's content, with a new ETag; trashed items and versions are
never visible over WebDAV, on the general path or the fast paths: no listing, no
GET/HEAD/PROPFIND, no COPY/MOVE source, and a new item of the same name is a new
file, never the trashed one.
"""

from __future__ import annotations

import re

import pytest
from lxml import etree
from werkzeug.test import Client

from davdrive import accounts, tree
from davdrive.policy import SYSTEM, Actor
from davdrive.runtime import Runtime
from davdrive.server import DriveApp, create_app
from davdrive.services import Drive
from davdrive.settings import Settings
from davdrive.trash import restore_from_trash
from tests.conftest import Dav, add_user, basic

DOC_ADMIN = Actor(user_id=None, login="ada", category="admin", documents="admin")
PROPS = (
    '<?xml version="1.0"?><D:propfind xmlns:D="DAV:" xmlns:Z="urn:z" xmlns:R="urn:davdrive">'
    "<D:prop><D:getlastmodified/><D:getetag/><D:getcontentlength/><Z:colour/>"
    "<R:owner/><R:degree/><R:doc-type/><R:visibility/></D:prop></D:propfind>"
)
PROPSET = (
    '<?xml version="1.0"?><D:propertyupdate xmlns:D="DAV:" xmlns:Z="urn:z">'
    "<D:set><D:prop><Z:colour>blue</Z:colour></D:prop></D:set></D:propertyupdate>"
)


def props(dav: Dav, path: str) -> str:
    response = dav("PROPFIND", path, PROPS, Depth="0")
    assert response.status_code == 207, response.data
    return response.data.decode()


def listing(dav: Dav, path: str) -> list[str]:
    response = dav("PROPFIND", path, Depth="1")
    assert response.status_code == 207
    return re.findall(r"<D:href>([^<]*)</D:href>", response.data.decode())


def restore(runtime: Runtime, path: str, as_name: str | None = None) -> None:
    with runtime.sessions() as session:
        restore_from_trash(session, DOC_ADMIN, path, as_name=as_name)
        session.commit()


def system_drive(runtime: Runtime, session: object) -> Drive:
    return Drive(session, runtime.blobs, SYSTEM, runtime.drive_options)  # type: ignore[arg-type]


def test_delete_then_restore_gives_back_the_same_bytes_and_metadata(
    dav: Dav, runtime: Runtime
) -> None:
    assert dav("MKCOL", "/dav/Board/").status_code == 201
    put = dav("PUT", "/dav/Board/minutes.txt", b"Meeting of 3 May", X_OC_Mtime="1700000000")
    assert put.status_code == 201
    assert dav("PROPPATCH", "/dav/Board/minutes.txt", PROPSET).status_code == 207
    with runtime.sessions() as session:
        accounts.add_doctype(session, "minutes")
        drive = system_drive(runtime, session)
        chain = tree.resolve_chain(session, ["Board", "minutes.txt"])
        assert chain is not None
        drive.set_classification(chain[-1], min_degree=1, doc_type="minutes")
    before = props(dav, "/dav/Board/minutes.txt")
    assert "blue" in before and "minutes" in before and "tester" in before
    assert "Tue, 14 Nov 2023 22:13:20 GMT" in before

    assert dav("DELETE", "/dav/Board/").status_code == 204
    assert dav("GET", "/dav/Board/minutes.txt").status_code == 404
    restore(runtime, "/Board")

    assert props(dav, "/dav/Board/minutes.txt") == before
    got = dav("GET", "/dav/Board/minutes.txt")
    assert (got.status_code, got.data) == (200, b"Meeting of 3 May")
    assert got.headers["ETag"].strip('"') in before


def test_restore_under_another_name_when_the_name_was_taken(dav: Dav, runtime: Runtime) -> None:
    dav("PUT", "/dav/plan.txt", b"old plan")
    dav("DELETE", "/dav/plan.txt")
    dav("PUT", "/dav/plan.txt", b"new plan")
    restore(runtime, "/plan.txt", as_name="plan (restored).txt")
    assert dav("GET", "/dav/plan.txt").data == b"new plan"
    assert dav("GET", "/dav/plan%20(restored).txt").data == b"old plan"


def test_a_restored_version_is_served_with_a_new_etag(dav: Dav, runtime: Runtime) -> None:
    dav("PUT", "/dav/budget.txt", b"version one")
    dav("PUT", "/dav/budget.txt", b"version two")
    etag = dav("HEAD", "/dav/budget.txt").headers["ETag"]
    with runtime.sessions() as session:
        drive = system_drive(runtime, session)
        chain = tree.resolve_chain(session, ["budget.txt"])
        assert chain is not None
        [version] = drive.versions(chain[-1])
        drive.restore_version(chain[-1], version.id)
    got = dav("GET", "/dav/budget.txt")
    assert got.data == b"version one"
    assert got.headers["ETag"] != etag
    assert dav("GET", "/dav/budget.txt", If_None_Match=etag).status_code == 200


@pytest.fixture(params=[True, False], ids=["fast-paths", "general-path"])
def both_paths(request: pytest.FixtureRequest, settings: Settings, app: DriveApp) -> Dav:
    """The same drive served with the fast paths on, then off."""
    changed = settings.replace(**{"dav.fast_path": request.param, "dav.fast_put": request.param})
    return Dav(Client(create_app(changed, app.runtime)))


@pytest.mark.parametrize("prefix", ["/dav", "/dav/files/tester"])
def test_trashed_items_are_invisible_over_webdav(both_paths: Dav, prefix: str) -> None:
    dav = both_paths
    assert dav("MKCOL", f"{prefix}/Old/").status_code == 201
    assert dav("PUT", f"{prefix}/Old/inside.txt", b"inside").status_code == 201
    assert dav("PUT", f"{prefix}/gone.txt", b"gone").status_code == 201
    assert dav("DELETE", f"{prefix}/gone.txt").status_code == 204
    assert dav("DELETE", f"{prefix}/Old/").status_code == 204
    for path in (f"{prefix}/gone.txt", f"{prefix}/Old/", f"{prefix}/Old/inside.txt"):
        assert dav("GET", path).status_code == 404, path
        assert dav("HEAD", path).status_code == 404, path
        assert dav("PROPFIND", path, Depth="0").status_code == 404, path
        assert dav("COPY", path, Destination=f"{prefix}/copy").status_code == 404, path
        assert dav("MOVE", path, Destination=f"{prefix}/moved").status_code == 404, path
    assert not [h for h in listing(dav, f"{prefix}/") if "gone" in h or "Old" in h]
    assert dav("PUT", f"{prefix}/gone.txt", b"a new file").status_code == 201  # not 204
    assert dav("GET", f"{prefix}/gone.txt").data == b"a new file"
    assert dav("MKCOL", f"{prefix}/Old/").status_code == 201
    assert listing(dav, f"{prefix}/Old/") == [f"{prefix}/Old/"]


def test_versions_are_invisible_over_webdav(both_paths: Dav) -> None:
    dav = both_paths
    for text in (b"one", b"two", b"three"):
        dav("PUT", "/dav/notes.txt", text)
    assert [h for h in listing(dav, "/dav/") if "notes" in h] == ["/dav/notes.txt"]
    got = dav("GET", "/dav/notes.txt")
    assert got.data == b"three" and got.headers["Content-Length"] == "5"
    assert b"<D:getcontentlength>5<" in dav("PROPFIND", "/dav/notes.txt", Depth="0").data


def drive_props(dav: Dav, path: str) -> dict[str, str]:
    """{local name: text} of every property PROPS asks for that ``path`` has (200)."""
    tree_ = etree.fromstring(dav("PROPFIND", path, PROPS, Depth="0").data)
    found = tree_.findall(".//{DAV:}propstat")
    ok = [p for p in found if "200" in (p.findtext("{DAV:}status") or "")]
    assert len(ok) == 1
    prop = ok[0].find("{DAV:}prop")
    assert prop is not None
    return {etree.QName(child).localname: child.text or "" for child in prop}


def test_a_deleted_file_comes_back_with_its_own_classification_and_privacy(
    app: DriveApp, runtime: Runtime
) -> None:
    """DELETE of the file itself (not its folder), then a restore: the same bytes and
    ETag, owner, degree, doc type and visibility (both unlike what the folder gives its
    new files, so a restore that re-derived them would show), mtime and dead property.
    Read by a document administrator, who sees a degree-2 private file."""
    add_user(runtime, "ada", documents="admin")
    tester, admin = Dav(Client(app)), Dav(Client(app), basic("ada", "secret"))
    assert tester("MKCOL", "/dav/Board/").status_code == 201
    put = tester("PUT", "/dav/Board/minutes.txt", b"Meeting of 3 May", X_OC_Mtime="1700000000")
    assert put.status_code == 201
    assert tester("PROPPATCH", "/dav/Board/minutes.txt", PROPSET).status_code == 207
    with runtime.sessions() as session:
        accounts.add_doctype(session, "minutes")
        drive = system_drive(runtime, session)
        chain = tree.resolve_chain(session, ["Board", "minutes.txt"])
        assert chain is not None
        drive.set_classification(chain[-1], min_degree=2, doc_type="minutes")
        drive.set_visibility(chain[-1], "private")
    before = drive_props(admin, "/dav/Board/minutes.txt")
    assert {k: before[k] for k in ("owner", "degree", "doc-type", "visibility", "colour",
                                   "getlastmodified", "getcontentlength")} == {
        "owner": "tester", "degree": "2", "doc-type": "minutes", "visibility": "private",
        "colour": "blue", "getlastmodified": "Tue, 14 Nov 2023 22:13:20 GMT",
        "getcontentlength": "16",
    }

    assert admin("DELETE", "/dav/Board/minutes.txt").status_code == 204
    assert admin("GET", "/dav/Board/minutes.txt").status_code == 404
    restore(runtime, "/Board/minutes.txt")

    assert drive_props(admin, "/dav/Board/minutes.txt") == before
    got = admin("GET", "/dav/Board/minutes.txt")
    assert (got.status_code, got.data) == (200, b"Meeting of 3 May")
    assert got.headers["ETag"] == before["getetag"]
