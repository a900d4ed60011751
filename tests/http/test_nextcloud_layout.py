"""Nextcloud's layout: ``/dav/files/LOGIN/`` is the drive of the signed-in user, exactly
as ``/dav/`` (rclone's nextcloud vendor refuses any other URL); another login, existing
or not, is 404; Destination headers may use either prefix."""

from __future__ import annotations

import re

import pytest
from werkzeug.test import Client

from davdrive.runtime import Runtime
from davdrive.server import DriveApp
from tests.conftest import Dav, add_user, basic


@pytest.fixture
def with_other(app: DriveApp, runtime: Runtime) -> DriveApp:
    add_user(runtime, "other", "secret", documents="write")
    return app


def hrefs(body: bytes) -> list[str]:
    return re.findall(r"<D:href>([^<]*)</D:href>", body.decode())


def test_propfind_under_files_login_lists_the_drive_with_hrefs_under_that_prefix(
    dav: Dav,
) -> None:
    """PROPFIND /dav/files/tester/ Depth 1: same items as /dav/, hrefs keep the prefix."""
    assert dav("MKCOL", "/dav/docs/").status_code == 201
    assert dav("PUT", "/dav/docs/a%20b%23.txt", b"hello").status_code == 201
    plain = dav("PROPFIND", "/dav/docs/", Depth="1")
    layout = dav("PROPFIND", "/dav/files/tester/docs/", Depth="1")
    assert (plain.status_code, layout.status_code) == (207, 207)
    assert hrefs(plain.data) == ["/dav/docs/", "/dav/docs/a%20b%23.txt"]
    assert hrefs(layout.data) == ["/dav/files/tester/docs/", "/dav/files/tester/docs/a%20b%23.txt"]
    root = dav("PROPFIND", "/dav/files/tester", Depth="0")
    assert hrefs(root.data) == ["/dav/files/tester/"]


def test_writes_under_files_login_reach_the_same_drive(dav: Dav) -> None:
    """PUT/GET/MKCOL/DELETE under /dav/files/tester/ act on the items seen at /dav/."""
    assert dav("MKCOL", "/dav/files/tester/f/").status_code == 201
    assert dav("PUT", "/dav/files/tester/f/x.txt", b"data").status_code == 201
    assert dav("GET", "/dav/f/x.txt").data == b"data"
    assert dav("PUT", "/dav/f/x.txt", b"data2").status_code == 204
    assert dav("GET", "/dav/files/tester/f/x.txt").data == b"data2"
    assert dav("DELETE", "/dav/files/tester/f/x.txt").status_code == 204
    assert dav("GET", "/dav/f/x.txt").status_code == 404


@pytest.mark.parametrize("source", ["/dav/files/tester/a.txt", "/dav/a.txt"])
@pytest.mark.parametrize("target", ["/dav/files/tester/b.txt", "/dav/b.txt",
                                    "http://localhost/dav/files/tester/b.txt"])
def test_move_and_copy_accept_destinations_under_either_prefix(
    dav: Dav, source: str, target: str
) -> None:
    """MOVE and COPY with a Destination under /dav/files/tester/ or /dav/ (rule: same drive)."""
    assert dav("PUT", "/dav/a.txt", b"one").status_code == 201
    assert dav("COPY", source, Destination=target).status_code == 201
    assert dav("GET", "/dav/b.txt").data == b"one"
    assert dav("MOVE", source, Destination=target, Overwrite="T").status_code == 204
    assert dav("GET", "/dav/a.txt").status_code == 404


def test_another_login_is_404_whether_it_exists_or_not(with_other: DriveApp, dav: Dav) -> None:
    """/dav/files/other/ (an existing user) and /dav/files/nobody/ answer alike: 404."""
    assert dav("PUT", "/dav/secret.txt", b"x").status_code == 201
    existing = dav("PROPFIND", "/dav/files/other/", Depth="0")
    unknown = dav("PROPFIND", "/dav/files/nobody/", Depth="0")
    assert (existing.status_code, unknown.status_code) == (404, 404)
    assert existing.data.replace(b"other", b"X") == unknown.data.replace(b"nobody", b"X")
    assert dav("GET", "/dav/files/other/secret.txt").status_code == 404
    assert dav("PUT", "/dav/files/other/new.txt", b"x").status_code == 409
    assert dav("MKCOL", "/dav/uploads/other/up/").status_code == 409


def test_each_user_has_their_own_prefix(with_other: DriveApp, dav: Dav) -> None:
    """The other user signs in and sees the drive at /dav/files/other/, not /dav/files/tester/."""
    other = Dav(dav.client, basic("other", "secret"))
    assert other("PROPFIND", "/dav/files/other/", Depth="0").status_code == 207
    assert other("PROPFIND", "/dav/files/tester/", Depth="0").status_code == 404


def test_the_layout_needs_sign_in(dav: Dav) -> None:
    """Without credentials /dav/files/tester/ is 401 like /dav/."""
    anonymous = dav.client.open("/dav/files/tester/", method="PROPFIND", headers={"Depth": "0"})
    assert anonymous.status_code == 401


def test_backoffice_branch_hrefs_keep_the_prefix(app: DriveApp, runtime: Runtime) -> None:
    """PROPFIND /dav/files/bob/ Depth 1 by staff: the back-office branch is listed as
    /dav/files/bob/backoffice/, never under the other prefix (rclone strips its URL)."""
    from davdrive import records
    from davdrive.models import Category

    add_user(runtime, "bob", "bob-pw", documents="write", category="office")
    with runtime.sessions() as session:
        session.query(Category).filter_by(slug="office").one().members = "write"
        records.add_record(session, "activity", "Choir")
        session.commit()
    bob = Dav(Client(app), basic("bob", "bob-pw"))
    listed = hrefs(bob("PROPFIND", "/dav/files/bob/", Depth="1").data)
    assert "/dav/files/bob/backoffice/" in listed
    assert all(h.startswith("/dav/files/bob/") for h in listed), listed
    inside = hrefs(bob("PROPFIND", "/dav/files/bob/backoffice/", Depth="1").data)
    assert inside and all(h.startswith("/dav/files/bob/backoffice/") for h in inside), inside
