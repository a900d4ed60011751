"""A folder's classification is inherited by what it holds, not copied into it.

The rule: the effective doc type of an item is its own, else its nearest
ancestor's; a user sees an item only if their degree reaches the minimum degree
of the item and of every folder above it. So an item created in a typed folder
stores no doc type of its own, and a later retype (or re-grade) of the folder
applies to everything already in it. Only a MOVE or COPY out of the folder makes
the classification the item had there its own (docs/decisions.md).

In /Club, members (carol: degree 1, dave: degree 3) read, but their category
excludes ``treasury``; wendy writes; ada is a document administrator.
"""

from __future__ import annotations

import re

import pytest

from davdrive import accounts, node_admin
from davdrive.policy import SYSTEM
from tests.http.club import LOCKINFO, Club

FOLDER = "/Club/Minutes"
BIG = b"m" * (256 * 1024)  # above the size kept in the database: the general upload way


def _hrefs(listing: bytes) -> set[str]:
    return set(re.findall(r"<D:href>([^<]*)</D:href>", listing.decode("utf-8")))


def _own_doc_type(club: Club, path: str) -> str | None:
    with club.runtime.sessions() as session:
        return node_admin.resolve_path(session, path).doc_type


def _effective_doc_type(club: Club, path: str) -> str | None:
    with club.runtime.sessions() as session:
        node = node_admin.resolve_path(session, path)
        return node_admin.facts_for(session, SYSTEM, node).doc_type


def _set(club: Club, path: str, **values: object) -> None:
    """Change ``path``'s classification as an administrator does (``node set``)."""
    with club.runtime.sessions() as session:
        node_admin.node_set(session, node_admin.resolve_path(session, path), **values)  # type: ignore[arg-type]
        session.commit()


@pytest.fixture
def minutes(club: Club) -> Club:
    """/Club/Minutes, typed ``minutes`` by the system; /Club/Minutes/Agenda has the
    doc type ``minutes`` of its own (it escapes any retype of /Club/Minutes)."""
    with club.runtime.sessions() as session:
        accounts.add_doctype(session, "minutes")
        session.commit()
    wendy = club.as_("wendy")
    assert wendy("MKCOL", f"/dav{FOLDER}").status_code == 201
    assert wendy("MKCOL", f"/dav{FOLDER}/Agenda").status_code == 201
    _set(club, FOLDER, doc_type="minutes")
    _set(club, f"{FOLDER}/Agenda", doc_type="minutes")
    return club


def _create_every_way(club: Club) -> list[str]:
    """Items wendy creates in the typed folder by each way a client has; their paths."""
    wendy = club.as_("wendy")
    assert wendy("PUT", f"/dav{FOLDER}/Small.txt", "small").status_code == 201  # fast PUT
    assert wendy("PUT", f"/dav{FOLDER}/Big.bin", BIG).status_code == 201  # general way
    assert wendy("PUT", f"/dav{FOLDER}/ThroughWsgidav.txt", "x",  # through WsgiDAV
                 **{"If-None-Match": "*"}).status_code == 201
    assert wendy("MKCOL", f"/dav{FOLDER}/Sub").status_code == 201
    assert wendy("PUT", f"/dav{FOLDER}/Sub/Inner.txt", "inner").status_code == 201
    lock = wendy("LOCK", f"/dav{FOLDER}/Empty.txt", LOCKINFO)  # LOCK on a free name
    assert lock.status_code == 201
    assert wendy("UNLOCK", f"/dav{FOLDER}/Empty.txt",
                 **{"Lock-Token": lock.headers["Lock-Token"]}).status_code == 204
    chunks = "/dav/uploads/wendy/chunked-upload-0001"  # Nextcloud chunked upload
    assert wendy("MKCOL", chunks + "/").status_code == 201
    assert wendy("PUT", chunks + "/1", b"chunk").status_code == 201
    assert wendy("MOVE", chunks + "/.file", Destination=f"/dav{FOLDER}/Chunked.bin",
                 OC_Total_Length="5").status_code == 201
    return [f"{FOLDER}/{name}" for name in (
        "Small.txt", "Big.bin", "ThroughWsgidav.txt", "Sub", "Sub/Inner.txt", "Empty.txt",
        "Chunked.bin")]


def test_items_created_in_a_typed_folder_inherit_its_doc_type(minutes: Club) -> None:
    """Rule: an item created in a folder has no doc type of its own; its effective
    doc type is the folder's (every way of creating: PUT fast and general, MKCOL,
    LOCK on a free name, chunked upload)."""
    for path in _create_every_way(minutes):
        assert _own_doc_type(minutes, path) is None, path
        assert _effective_doc_type(minutes, path) == "minutes", path


def test_retyping_the_folder_hides_what_was_created_in_it_before(minutes: Club) -> None:
    """Finding (issue 13): a file created in a typed folder copied the folder's doc type,
    so a later retype to treasury left it visible to members.
    Rule: the effective doc type is the nearest ancestor's, so retyping a folder to
    a type the member's category excludes hides the files already in it: 404 on
    GET, absent from the listing; a document administrator still sees them; an item
    with a doc type of its own inside keeps it."""
    created = _create_every_way(minutes)
    carol, ada = minutes.as_("carol"), minutes.as_("ada")
    assert carol("GET", f"/dav{FOLDER}/Small.txt").data == b"small"  # a minutes file
    listed = _hrefs(carol("PROPFIND", f"/dav{FOLDER}/", Depth="1").data)
    assert f"/dav{FOLDER}/Small.txt" in listed

    _set(minutes, FOLDER, doc_type="treasury")

    for path in created:
        assert carol("GET", "/dav" + path).status_code == 404, path
        assert ada("GET", "/dav" + path).status_code == 200, path
    assert carol("GET", f"/dav{FOLDER}/Small.txt").status_code == 404
    # /Club/Minutes is now only a way through to Agenda (its own minutes type)
    listing = carol("PROPFIND", f"/dav{FOLDER}/", Depth="1")
    assert listing.status_code == 207
    assert _hrefs(listing.data) == {f"/dav{FOLDER}/", f"/dav{FOLDER}/Agenda/"}
    assert b"Small.txt" not in listing.data and b"Inner.txt" not in listing.data
    every = _hrefs(ada("PROPFIND", f"/dav{FOLDER}/", Depth="1").data)
    assert {f"/dav{FOLDER}/Small.txt", f"/dav{FOLDER}/Sub/"} <= every


def test_a_member_who_never_read_the_file_is_refused_after_a_retype(
    minutes: Club
) -> None:
    """The same rule when the member's first request comes after the retype (nothing
    kept from an earlier answer): 404, and not listed."""
    assert minutes.as_("wendy")("PUT", f"/dav{FOLDER}/Report.txt", "r").status_code == 201
    _set(minutes, FOLDER, doc_type="treasury")
    dave = minutes.as_("dave")  # degree 3 member: only the doc type hides it
    assert dave("GET", f"/dav{FOLDER}/Report.txt").status_code == 404
    assert b"Report.txt" not in dave("PROPFIND", f"/dav{FOLDER}/", Depth="1").data
    assert minutes.as_("wendy")("GET", f"/dav{FOLDER}/Report.txt").data == b"r"


def test_regrading_the_folder_hides_what_was_created_in_it_before(minutes: Club) -> None:
    """Rule: a user's degree must reach the minimum degree of the item and of every
    folder above it; raising the folder's degree above a member's hides the files
    already in it (404, absent from listings), and users of that degree still see
    them."""
    wendy, carol, dave = minutes.as_("wendy"), minutes.as_("carol"), minutes.as_("dave")
    assert wendy("PUT", f"/dav{FOLDER}/Old.txt", "old").status_code == 201
    assert carol("GET", f"/dav{FOLDER}/Old.txt").data == b"old"

    _set(minutes, FOLDER, min_degree=2)

    assert carol("GET", f"/dav{FOLDER}/Old.txt").status_code == 404
    assert carol("PROPFIND", f"/dav{FOLDER}/", Depth="1").status_code == 404
    assert b"Minutes" not in carol("PROPFIND", "/dav/Club/", Depth="1").data
    assert dave("GET", f"/dav{FOLDER}/Old.txt").data == b"old"  # degree 3
    assert f"/dav{FOLDER}/Old.txt" in _hrefs(dave("PROPFIND", f"/dav{FOLDER}/", Depth="1").data)


def test_moving_or_copying_out_of_the_folder_keeps_its_doc_type_as_the_items_own(
    minutes: Club
) -> None:
    """Rule: an item that leaves its folder by MOVE or COPY takes the doc type it had
    there as its own (a move never declassifies by accident), so a later retype of
    the folder no longer concerns it; the items inside a moved folder inherit from
    it. A rename in place, or a copy in the same folder, is still the folder's
    item: it keeps inheriting."""
    wendy = minutes.as_("wendy")
    for name in ("ToMove.txt", "ToCopy.txt", "Renamed-before.txt", "Twin.txt"):
        assert wendy("PUT", f"/dav{FOLDER}/{name}", name).status_code == 201
    assert wendy("MKCOL", f"/dav{FOLDER}/Folder").status_code == 201
    assert wendy("PUT", f"/dav{FOLDER}/Folder/Inside.txt", "inside").status_code == 201

    def moved(source: str, dest: str, method: str = "MOVE") -> None:
        answer = wendy(method, f"/dav{source}", Destination=f"/dav{dest}")
        assert answer.status_code == 201, (method, source, answer.data)

    moved(f"{FOLDER}/ToMove.txt", "/Club/Moved.txt")
    moved(f"{FOLDER}/ToCopy.txt", "/Club/Copied.txt", "COPY")
    moved(f"{FOLDER}/Folder", "/Club/MovedFolder")
    moved(f"{FOLDER}/Renamed-before.txt", f"{FOLDER}/Renamed.txt")
    moved(f"{FOLDER}/Twin.txt", f"{FOLDER}/Twin copy.txt", "COPY")

    for path in ("/Club/Moved.txt", "/Club/Copied.txt", "/Club/MovedFolder"):
        assert _own_doc_type(minutes, path) == "minutes", path
    for path in (f"{FOLDER}/ToCopy.txt", "/Club/MovedFolder/Inside.txt",
                 f"{FOLDER}/Renamed.txt", f"{FOLDER}/Twin copy.txt"):
        assert _own_doc_type(minutes, path) is None, path

    _set(minutes, FOLDER, doc_type="treasury")

    carol = minutes.as_("carol")
    assert carol("GET", "/dav/Club/Moved.txt").data == b"ToMove.txt"
    assert carol("GET", "/dav/Club/Copied.txt").data == b"ToCopy.txt"
    assert carol("GET", "/dav/Club/MovedFolder/Inside.txt").data == b"inside"
    for path in ("ToCopy.txt", "Renamed.txt", "Twin copy.txt", "Twin.txt"):
        assert carol("GET", f"/dav{FOLDER}/{path}").status_code == 404, path
