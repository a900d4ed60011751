"""The back-office branch over HTTP (DESIGN 3 rule 10, seed 000).

Staff (members >= read, or document admins) see every record; a member sees
only their own member record and its shared attachments; shared product and
activity attachments are seen by every user with documents >= read; private
ones only by staff. The branch is read-only for everybody.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from werkzeug.test import Client

from davdrive import records
from davdrive.models import Attachment, Blob, Category, Record
from davdrive.runtime import Runtime
from davdrive.server import DriveApp
from tests.conftest import Dav, add_user, basic

LOCKINFO = (
    '<?xml version="1.0"?><D:lockinfo xmlns:D="DAV:"><D:lockscope><D:exclusive/>'
    "</D:lockscope><D:locktype><D:write/></D:locktype></D:lockinfo>"
)
PROPPATCH = (
    '<?xml version="1.0"?><D:propertyupdate xmlns:D="DAV:" xmlns:x="urn:x"><D:set><D:prop>'
    "<x:tag>v</x:tag></D:prop></D:set></D:propertyupdate>"
)


def attach_bytes(runtime: Runtime, record: Record, name: str, data: bytes, visibility: str) -> None:
    """An attachment row over a stored blob (the type check is tested elsewhere)."""
    info = runtime.blobs.put_bytes(data)
    with runtime.sessions() as session:
        if session.get(Blob, info.sha256) is None:
            session.add(Blob(sha256=info.sha256, sha1=info.sha1, md5=info.md5, size=info.size))
            session.flush()
        session.add(Attachment(record_id=record.id, file_name=name, blob_sha256=info.sha256,
                               size=info.size, visibility=visibility,
                               content_type="application/pdf"))
        session.commit()


@pytest.fixture
def office(app: DriveApp, runtime: Runtime) -> Iterator[dict[str, Dav]]:
    add_user(runtime, "carol", "carol-pw", documents="read", category="member")
    add_user(runtime, "dave", "dave-pw", documents="read", category="member")
    add_user(runtime, "bob", "bob-pw", documents="write", category="office")
    add_user(runtime, "nobody", "nobody-pw", documents="none", category="outsider")
    with runtime.sessions() as session:
        session.query(Category).filter_by(slug="office").one().members = "write"
        carol = records.add_record(session, "member", "Carol Petit", "carol")
        dave = records.add_record(session, "member", "Dave Moreau", "dave")
        jam = records.add_record(session, "product", "Jam / Confiture")
        choir = records.add_record(session, "activity", "Choir")
        session.commit()
        session.expunge_all()
    for record, name, data, visibility in (
        (carol, "card.pdf", b"carol card", "shared"),
        (carol, "medical.pdf", b"carol medical", "private"),
        (dave, "card.pdf", b"dave card", "shared"),
        (jam, "photo.jpg", b"jam photo", "shared"),
        (jam, "cost.pdf", b"jam cost", "private"),
        (choir, "list.pdf", b"choir list", "private"),
    ):
        attach_bytes(runtime, record, name, data, visibility)
    yield {login: Dav(Client(app), basic(login, f"{login}-pw"))
           for login in ("carol", "dave", "bob", "nobody")}


def listing(dav: Dav, path: str) -> bytes:
    response = dav("PROPFIND", path, Depth="1")
    assert response.status_code == 207, (path, response.status_code)
    return response.data


def test_a_member_sees_only_their_record_and_its_shared_attachments(
    office: dict[str, Dav]
) -> None:
    carol = office["carol"]
    root = listing(carol, "/dav/")
    assert b"/dav/backoffice/" in root
    branch = listing(carol, "/dav/backoffice/")
    assert b"/dav/backoffice/members/" in branch and b"/dav/backoffice/products/" in branch
    assert b"activities" not in branch  # the choir has only a private attachment
    members = listing(carol, "/dav/backoffice/members/")
    assert b"Carol%20Petit" in members and b"Dave" not in members
    own = listing(carol, "/dav/backoffice/members/Carol Petit/")
    assert b"card.pdf" in own and b"medical" not in own
    assert carol("GET", "/dav/backoffice/members/Carol Petit/card.pdf").data == b"carol card"


def test_others_records_and_private_attachments_are_absent(office: dict[str, Dav]) -> None:
    carol = office["carol"]
    for path in ("/dav/backoffice/members/Dave Moreau/",
                 "/dav/backoffice/members/Dave Moreau/card.pdf",
                 "/dav/backoffice/members/Carol Petit/medical.pdf",
                 "/dav/backoffice/products/Jam _ Confiture/cost.pdf",
                 "/dav/backoffice/activities/Choir/list.pdf"):
        hidden = carol("GET", path)
        missing = carol("GET", path.replace("backoffice/", "backoffice/x"))
        assert hidden.status_code == missing.status_code == 404, path
        assert hidden.data.replace(b"backoffice/", b"backoffice/x") == missing.data
        for content in (b"dave card", b"carol medical", b"jam cost", b"choir list"):
            assert content not in hidden.data


def test_shared_product_attachments_are_seen_by_every_reader(office: dict[str, Dav]) -> None:
    for login in ("carol", "dave"):
        got = office[login]("GET", "/dav/backoffice/products/Jam _ Confiture/photo.jpg")
        assert got.data == b"jam photo", login
    assert office["nobody"]("GET", "/dav/backoffice/products/Jam _ Confiture/photo.jpg"
                            ).status_code == 404
    assert office["nobody"]("PROPFIND", "/dav/backoffice/", Depth="0").status_code == 404


def test_staff_see_every_record_and_attachment(office: dict[str, Dav]) -> None:
    bob = office["bob"]
    assert b"activities" in listing(bob, "/dav/backoffice/")
    members = listing(bob, "/dav/backoffice/members/")
    assert b"Carol%20Petit" in members and b"Dave%20Moreau" in members
    assert bob("GET", "/dav/backoffice/members/Carol Petit/medical.pdf").data == b"carol medical"
    assert bob("GET", "/dav/backoffice/activities/Choir/list.pdf").data == b"choir list"


WRITES = [
    ("PUT", "/dav/backoffice/members/Carol Petit/new.pdf", {}),
    ("PUT", "/dav/backoffice/members/Carol Petit/card.pdf", {}),
    ("DELETE", "/dav/backoffice/members/Carol Petit/card.pdf", {}),
    ("DELETE", "/dav/backoffice/members/Carol Petit/", {}),
    ("DELETE", "/dav/backoffice/", {}),
    ("MKCOL", "/dav/backoffice/members/New/", {}),
    ("MKCOL", "/dav/backoffice/members/Carol Petit/Sub/", {}),
    ("MOVE", "/dav/backoffice/members/Carol Petit/card.pdf",
     {"Destination": "/dav/backoffice/members/Carol Petit/renamed.pdf"}),
    ("COPY", "/dav/backoffice/members/Carol Petit/card.pdf",
     {"Destination": "/dav/backoffice/members/Carol Petit/copy.pdf"}),
    ("COPY", "/dav/drive.txt", {"Destination": "/dav/backoffice/members/Carol Petit/d.pdf"}),
    ("MOVE", "/dav/drive.txt", {"Destination": "/dav/backoffice/members/Carol Petit/d.pdf"}),
    ("PROPPATCH", "/dav/backoffice/members/Carol Petit/card.pdf", {}),
    ("LOCK", "/dav/backoffice/members/Carol Petit/card.pdf", {}),
    ("LOCK", "/dav/backoffice/members/Carol Petit/new.pdf", {}),
]


@pytest.mark.parametrize("login", ["carol", "bob"])
@pytest.mark.parametrize(("method", "path", "headers"), WRITES)
def test_every_write_in_the_branch_is_403_and_changes_nothing(
    office: dict[str, Dav], runtime: Runtime, login: str, method: str, path: str,
    headers: dict[str, str],
) -> None:
    dav = office[login]
    office["bob"]("PUT", "/dav/drive.txt", "drive file")
    body = {"PUT": "x", "PROPPATCH": PROPPATCH, "LOCK": LOCKINFO}.get(method, "")
    response = dav(method, path, body, **headers)
    assert response.status_code == 403, (method, path, response.status_code, response.data)
    assert b"read-only" in response.data
    assert dav("GET", "/dav/backoffice/members/Carol Petit/card.pdf").data == b"carol card"
    with runtime.sessions() as session:
        assert session.query(Attachment).count() == 6


def test_backoffice_is_a_reserved_name_at_the_root(app: DriveApp, dav: Dav) -> None:
    """Nobody can create a real item that the virtual branch would hide."""
    assert dav("MKCOL", "/dav/backoffice/").status_code == 409
    assert dav("PUT", "/dav/BackOffice", "x").status_code == 409
    assert dav("MKCOL", "/dav/folder/").status_code == 201
    assert dav("MKCOL", "/dav/folder/backoffice/").status_code == 201, "only at the root"

