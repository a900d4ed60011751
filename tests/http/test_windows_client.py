"""Windows' Mini-Redirector and Office: file times and the 0-byte-then-content save.

Rules (issue "real clients", Windows part):
- ``{urn:schemas-microsoft-com:}Win32LastModifiedTime`` and ``Win32CreationTime`` are the
  node's modification and creation times: read from the node in PROPFIND (RFC 1123 dates,
  as Windows writes them), written by PROPPATCH with the modify right, never stored as
  dead properties (so a change by another client shows in Explorer).
- A PUT that replaces a 0-byte file written by the same user within a minute keeps no
  empty version (Explorer and Word write 0 bytes, then the content).
"""

from __future__ import annotations

import datetime as dt
import email.utils
import re
import time

from sqlalchemy import select

from davdrive.models import DeadProperty, Node, NodeVersion
from davdrive.runtime import Runtime
from tests.conftest import Dav, add_user, basic

WIN32_PROPFIND = (
    '<?xml version="1.0" encoding="utf-8" ?><D:propfind xmlns:D="DAV:">'
    '<D:prop xmlns:Z="urn:schemas-microsoft-com:"><D:getlastmodified/><D:creationdate/>'
    "<Z:Win32CreationTime/><Z:Win32LastAccessTime/><Z:Win32LastModifiedTime/>"
    "<Z:Win32FileAttributes/></D:prop></D:propfind>"
)


def win32_proppatch(modified: str, created: str = "Mon, 01 Jan 2024 08:00:00 GMT") -> str:
    """The PROPPATCH Windows sends after writing a file (copied from its traffic)."""
    return (
        '<?xml version="1.0" encoding="utf-8" ?><D:propertyupdate xmlns:D="DAV:" '
        'xmlns:Z="urn:schemas-microsoft-com:"><D:set><D:prop>'
        f"<Z:Win32CreationTime>{created}</Z:Win32CreationTime>"
        f"<Z:Win32LastAccessTime>{modified}</Z:Win32LastAccessTime>"
        f"<Z:Win32LastModifiedTime>{modified}</Z:Win32LastModifiedTime>"
        "<Z:Win32FileAttributes>00000020</Z:Win32FileAttributes>"
        "</D:prop></D:set></D:propertyupdate>"
    )


def prop(body: bytes, local: str) -> str:
    found = re.search(rb"<(?:\w+:)?" + local.encode() + rb"[^>]*>([^<]*)<", body)
    assert found is not None, body
    return found.group(1).decode()


def test_win32_times_are_written_onto_the_node_not_as_dead_properties(
    dav: Dav, app: object, runtime: Runtime
) -> None:
    """PROPPATCH Win32LastModifiedTime/Win32CreationTime (as Windows sends them after a
    PUT) sets the node's mtime and creation date, seen in getlastmodified."""
    assert dav("PUT", "/dav/report.docx", b"content").status_code == 201
    response = dav("PROPPATCH", "/dav/report.docx", win32_proppatch(
        "Tue, 05 Mar 2024 10:20:30 GMT"), Content_Type="text/xml")
    assert response.status_code == 207
    assert b"HTTP/1.1 200 OK" in response.data and b"HTTP/1.1 4" not in response.data
    listing = dav("PROPFIND", "/dav/report.docx", WIN32_PROPFIND, Depth="0").data
    assert prop(listing, "getlastmodified") == "Tue, 05 Mar 2024 10:20:30 GMT"
    assert prop(listing, "Win32LastModifiedTime") == "Tue, 05 Mar 2024 10:20:30 GMT"
    assert prop(listing, "Win32CreationTime") == "Mon, 01 Jan 2024 08:00:00 GMT"
    assert prop(listing, "creationdate").startswith("2024-01-01T08:00:00")
    with runtime.sessions() as session:
        names = set(session.scalars(select(DeadProperty.name)))
    assert "{urn:schemas-microsoft-com:}Win32LastModifiedTime" not in names
    assert "{urn:schemas-microsoft-com:}Win32CreationTime" not in names


def test_win32_last_modified_follows_another_clients_change(
    dav: Dav, app: object, runtime: Runtime
) -> None:
    """After Windows set its times, another client's PUT changes the file: Explorer's
    Win32LastModifiedTime must show the new time, not the one Windows wrote."""
    assert dav("PUT", "/dav/plan.xlsx", b"v1").status_code == 201
    old = "Tue, 05 Mar 2024 10:20:30 GMT"
    assert dav("PROPPATCH", "/dav/plan.xlsx", win32_proppatch(old)).status_code == 207
    before = time.time()
    assert dav("PUT", "/dav/plan.xlsx", b"v2 from rclone").status_code == 204
    listing = dav("PROPFIND", "/dav/plan.xlsx", WIN32_PROPFIND, Depth="0").data
    shown = email.utils.parsedate_to_datetime(prop(listing, "Win32LastModifiedTime"))
    assert shown.timestamp() >= int(before)
    assert prop(listing, "Win32LastModifiedTime") == prop(listing, "getlastmodified")


def test_win32_times_need_the_modify_right(dav: Dav, app: object, runtime: Runtime) -> None:
    """A reader's PROPPATCH of Win32LastModifiedTime is refused (403) and changes nothing."""
    add_user(runtime, "reader", "secret", documents="read")
    assert dav("PUT", "/dav/fixed.txt", b"x").status_code == 201
    reader = Dav(dav.client, basic("reader", "secret"))
    response = reader("PROPPATCH", "/dav/fixed.txt", win32_proppatch(
        "Tue, 05 Mar 2024 10:20:30 GMT"))
    assert b"403 Forbidden" in response.data
    listing = dav("PROPFIND", "/dav/fixed.txt", WIN32_PROPFIND, Depth="0").data
    assert "2024" not in prop(listing, "Win32LastModifiedTime")


def test_a_bad_win32_date_is_refused_and_nothing_is_stored(dav: Dav, app: object) -> None:
    """PROPPATCH Win32LastModifiedTime "yesterday": not an RFC 1123 date, refused (the
    request is atomic, RFC 4918 9.2: the other properties are not stored either)."""
    assert dav("PUT", "/dav/a.txt", b"x").status_code == 201
    response = dav("PROPPATCH", "/dav/a.txt", win32_proppatch("yesterday"))
    assert response.status_code == 207
    assert b"HTTP/1.1 400" in response.data or b"HTTP/1.1 409" in response.data
    listing = dav("PROPFIND", "/dav/a.txt", WIN32_PROPFIND, Depth="0").data
    assert "2024" not in prop(listing, "Win32CreationTime")


def versions(runtime: Runtime, name: str) -> list[int]:
    with runtime.sessions() as session:
        node_id = session.scalar(select(Node.id).where(Node.name == name))
        return list(session.scalars(
            select(NodeVersion.size).where(NodeVersion.node_id == node_id)
            .order_by(NodeVersion.id)))


def test_explorer_save_keeps_no_empty_version(dav: Dav, app: object, runtime: Runtime) -> None:
    """Explorer copying a file in: PUT 0 bytes, then PUT the content. No empty version."""
    assert dav("PUT", "/dav/photo.jpg", b"").status_code == 201
    assert dav("PUT", "/dav/photo.jpg", b"jpeg bytes").status_code == 204
    assert versions(runtime, "photo.jpg") == []
    # Saving again over it the same way keeps the real previous content, once.
    assert dav("PUT", "/dav/photo.jpg", b"").status_code == 204
    assert dav("PUT", "/dav/photo.jpg", b"new jpeg bytes").status_code == 204
    assert versions(runtime, "photo.jpg") == [len(b"jpeg bytes")]


def test_lock_then_put_keeps_no_empty_version(dav: Dav, app: object, runtime: Runtime) -> None:
    """Word: LOCK on a new name (an empty file), PUT the content, UNLOCK."""
    lock = dav("LOCK", "/dav/letter.docx", (
        '<?xml version="1.0" encoding="utf-8" ?><D:lockinfo xmlns:D="DAV:"><D:lockscope>'
        "<D:exclusive/></D:lockscope><D:locktype><D:write/></D:locktype>"
        "<D:owner><D:href>WIN\\tester</D:href></D:owner></D:lockinfo>"), Depth="0")
    assert lock.status_code == 201
    token = lock.headers["Lock-Token"]
    assert dav("PUT", "/dav/letter.docx", b"docx bytes", If=f"({token})").status_code == 204
    assert dav("UNLOCK", "/dav/letter.docx", Lock_Token=token).status_code == 204
    assert versions(runtime, "letter.docx") == []


def test_another_users_empty_file_is_kept_as_a_version(
    dav: Dav, app: object, runtime: Runtime
) -> None:
    """The exception is for the writer's own fresh empty file: a manager replacing the
    0-byte file "tester" just wrote keeps it as a version, as any overwrite does."""
    add_user(runtime, "boss", "secret", documents="admin")
    assert dav("PUT", "/dav/shared.txt", b"").status_code == 201
    boss = Dav(dav.client, basic("boss", "secret"))
    assert boss("PUT", "/dav/shared.txt", b"text").status_code == 204
    assert versions(runtime, "shared.txt") == [0]


def test_an_old_empty_file_is_kept_as_a_version(dav: Dav, app: object, runtime: Runtime) -> None:
    """An empty file written more than a minute ago is content like any other."""
    assert dav("PUT", "/dav/empty.txt", b"").status_code == 201
    with runtime.sessions() as session:
        node = session.scalars(select(Node).where(Node.name == "empty.txt")).one()
        node.created_at = node.created_at - dt.timedelta(minutes=2)
        session.commit()
    assert dav("PUT", "/dav/empty.txt", b"text").status_code == 204
    assert versions(runtime, "empty.txt") == [0]
