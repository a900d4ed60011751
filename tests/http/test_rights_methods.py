"""The rights engine over HTTP, method by method (DESIGN 3, rules 3 to 9).

One association: the folder /Club, where members (documents read, treasury
excluded) have the right read, writers write, managers manage, and a
category that may not delete has write. Hidden from a degree-1 member: a
degree-3 file, a treasury file and a file inside a degree-3 folder.
"""

from __future__ import annotations

import pytest

from davdrive import node_admin, tree
from davdrive.policy import SYSTEM
from davdrive.services import Drive
from tests.conftest import Dav, put_file
from tests.http.club import (
    HIDDEN,
    LOCKINFO,
    METHODS,
    MISSING,
    PROPPATCH,
    SECRET,
    Club,
    _request,
)


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("hidden", HIDDEN)
def test_hidden_items_answer_exactly_like_missing_ones(
    club: Club, method: str, hidden: str
) -> None:
    """Rule 4: for a degree-1 member, every method on a degree-3 file, a treasury
    file or a file in a degree-3 folder gets the answer of a path that never existed."""
    carol = club.as_(login="carol")
    missing = MISSING if hidden.count("/") == 2 else "/Club/Nowhere/Inner.txt"
    got = _request(carol, method, hidden)
    expected = _request(carol, method, missing)
    assert got == expected, f"{method} {hidden}: {got[0]} vs missing {expected[0]}"
    assert got[0] in (403, 404, 409) or method == "OPTIONS", got
    assert SECRET not in got[2]
    assert club.content(hidden) == SECRET, "nothing changed"


def test_controls_the_same_requests_reach_items_the_rules_allow(club: Club) -> None:
    dave = club.as_("dave")  # degree 3, but treasury is excluded for members
    assert dave("GET", "/dav/Club/Degree3.txt").data == SECRET
    assert dave("GET", "/dav/Club/Deep/Inner.txt").data == SECRET
    assert dave("GET", "/dav/Club/Budget.txt").status_code == 404
    wendy = club.as_("wendy")  # writers exclude nothing but have degree 1
    assert wendy("GET", "/dav/Club/Budget.txt").data == SECRET
    assert wendy("GET", "/dav/Club/Degree3.txt").status_code == 404


def test_listings_omit_hidden_items_and_name_them_nowhere(club: Club) -> None:
    body = club.as_("carol")("PROPFIND", "/dav/Club/", Depth="1").data
    assert b"Public.txt" in body and b"Fixed.txt" in body
    for word in (b"Degree3", b"Budget", b"Deep", b"Inner"):
        assert word not in body
    root = club.as_("carol")("PROPFIND", "/dav/", Depth="1").data
    assert b"/dav/Club/" in root  # the root is a way through to /Club


def test_a_name_held_by_a_hidden_item_is_409_where_one_may_create_else_403(
    club: Club
) -> None:
    """Rule 4's exception: never overwrites, 409 only for those who may create."""
    walt = club.as_("walt")  # writer of degree 1: Degree3.txt is hidden from him
    assert walt("GET", "/dav/Club/Degree3.txt").status_code == 404
    assert walt("PUT", "/dav/Club/Degree3.txt", "mine").status_code == 409
    assert walt("MKCOL", "/dav/Club/degree3.TXT").status_code == 409
    assert walt("LOCK", "/dav/Club/Degree3.txt", LOCKINFO).status_code == 409
    walt("PUT", "/dav/Club/Mine.txt", "mine")
    copy = walt("COPY", "/dav/Club/Mine.txt",
                Destination="http://localhost/dav/Club/Degree3.txt", Overwrite="T")
    assert copy.status_code == 409
    move = walt("MOVE", "/dav/Club/Mine.txt", Destination="/dav/Club/Degree3.txt")
    assert move.status_code == 409
    assert club.as_("carol")("PUT", "/dav/Club/Degree3.txt", "x").status_code == 403
    assert club.content("/Club/Degree3.txt") == SECRET
    assert club.content("/Club/Mine.txt") == b"mine"


def test_the_creator_modifies_their_file_and_another_writer_cannot(club: Club) -> None:
    """Rule 6: only the creator (with write) or a manager changes a file."""
    wendy, walt, mia = club.as_("wendy"), club.as_("walt"), club.as_("mia")
    assert wendy("PUT", "/dav/Club/Notes.txt", "v1").status_code == 201
    assert wendy("PUT", "/dav/Club/Notes.txt", "v2").status_code in (200, 204)
    assert wendy("PROPPATCH", "/dav/Club/Notes.txt", PROPPATCH).status_code == 207
    for method, extra in (
        ("PUT", {}), ("DELETE", {}), ("PROPPATCH", {}), ("LOCK", {}),
        ("MOVE", {"Destination": "/dav/Club/Taken.txt"}),
    ):
        theirs = PROPPATCH.replace(">v<", ">walt<")
        body = {"PUT": "walt was here", "PROPPATCH": theirs, "LOCK": LOCKINFO}.get(method, "")
        response = walt(method, "/dav/Club/Notes.txt", body, **extra)
        if method == "PROPPATCH":  # RFC 4918: a multistatus naming the refused property
            assert response.status_code == 207 and b"403 Forbidden" in response.data
        else:
            assert response.status_code == 403, method
    assert b">walt<" not in walt("PROPFIND", "/dav/Club/Notes.txt", Depth="0").data
    assert club.content("/Club/Notes.txt") == b"v2"
    assert walt("GET", "/dav/Club/Notes.txt").data == b"v2", "he still reads it"
    # a manager may do it all
    assert mia("PUT", "/dav/Club/Notes.txt", "v3").status_code in (200, 204)
    assert mia("PROPPATCH", "/dav/Club/Notes.txt", PROPPATCH).status_code == 207
    lock = mia("LOCK", "/dav/Club/Notes.txt", LOCKINFO)
    assert lock.status_code == 200
    token = lock.headers["Lock-Token"]
    assert mia("UNLOCK", "/dav/Club/Notes.txt", **{"Lock-Token": token}).status_code == 204
    assert mia("MOVE", "/dav/Club/Notes.txt",
               Destination="/dav/Club/Renamed.txt").status_code == 201
    assert mia("DELETE", "/dav/Club/Renamed.txt").status_code == 204
    assert club.content("/Club/Renamed.txt") is None


def test_another_users_lock_shows_its_owner_but_never_its_token(club: Club) -> None:
    wendy, walt = club.as_("wendy"), club.as_("walt")
    wendy("PUT", "/dav/Club/Locked.txt", "x")
    token = wendy("LOCK", "/dav/Club/Locked.txt", LOCKINFO).headers["Lock-Token"].strip("<>")
    body = walt("PROPFIND", "/dav/Club/Locked.txt", Depth="0").data
    assert b"someone" in body and token.encode() not in body
    assert token.encode() in wendy("PROPFIND", "/dav/Club/Locked.txt", Depth="0").data


@pytest.mark.parametrize("login", ["wendy", "mia", "ada"])
def test_protected_items_resist_everyone(club: Club, login: str) -> None:
    """Nobody renames, deletes or overwrites a protected item, nor adds into a
    protected folder, not even a document administrator; it can still be read."""
    dav = club.as_(login)
    assert dav("GET", "/dav/Club/Fixed.txt").data == b"public"
    assert dav("PUT", "/dav/Club/Fixed.txt", "changed").status_code == 403
    assert dav("DELETE", "/dav/Club/Fixed.txt").status_code == 403
    assert dav("MOVE", "/dav/Club/Fixed.txt",
               Destination="/dav/Club/Unfixed.txt").status_code == 403
    assert dav("LOCK", "/dav/Club/Fixed.txt", LOCKINFO).status_code == 403
    assert dav("PUT", "/dav/Club/System/new.txt", "x").status_code == 403
    assert dav("MKCOL", "/dav/Club/System/New").status_code == 403
    assert dav("DELETE", "/dav/Club/System").status_code == 403
    assert club.content("/Club/Fixed.txt") == b"public"
    assert club.content("/Club/System/new.txt") is None


def test_a_category_that_may_not_delete_creates_and_overwrites_but_never_deletes(
    club: Club
) -> None:
    nora = club.as_("nora")
    assert nora("PUT", "/dav/Club/Draft.txt", "1").status_code == 201
    assert nora("PUT", "/dav/Club/Draft.txt", "2").status_code in (200, 204)
    assert nora("DELETE", "/dav/Club/Draft.txt").status_code == 403
    assert nora("MOVE", "/dav/Club/Draft.txt",
                Destination="/dav/Club/Final.txt").status_code == 403
    assert club.content("/Club/Draft.txt") == b"2"


@pytest.mark.parametrize("blocker", ["owned by another writer", "hidden degree-3 file"])
def test_deleting_or_moving_a_folder_with_one_refused_file_changes_nothing(
    club: Club, blocker: str
) -> None:
    """Rule 7: all or nothing, over what the user sees and what they do not."""
    wendy, walt = club.as_("wendy"), club.as_("walt")
    assert wendy("MKCOL", "/dav/Club/Box").status_code == 201
    wendy("PUT", "/dav/Club/Box/a.txt", "a")
    if blocker == "owned by another writer":
        walt("PUT", "/dav/Club/Box/b.txt", "b")
    else:
        wendy("PUT", "/dav/Club/Box/b.txt", "b")
        with club.runtime.sessions() as session:
            node = node_admin.resolve_path(session, "/Club/Box/b.txt")
            node_admin.node_set(session, node, min_degree=3)
            session.commit()
        assert wendy("GET", "/dav/Club/Box/b.txt").status_code == 404
    assert wendy("DELETE", "/dav/Club/Box").status_code == 403
    assert wendy("MOVE", "/dav/Club/Box", Destination="/dav/Club/Box2").status_code == 403
    assert club.content("/Club/Box/a.txt") == b"a"
    assert club.content("/Club/Box/b.txt") == b"b"
    assert club.content("/Club/Box2/a.txt") is None


def test_overwrite_t_needs_the_right_to_delete_the_target(club: Club) -> None:
    """Rule 8: COPY/MOVE onto an existing item also deletes it."""
    wendy, walt = club.as_("wendy"), club.as_("walt")
    wendy("PUT", "/dav/Club/Hers.txt", "hers")
    walt("PUT", "/dav/Club/His.txt", "his")
    walt("PUT", "/dav/Club/His2.txt", "his2")
    for method in ("COPY", "MOVE"):
        refused = walt(method, "/dav/Club/His.txt", Destination="/dav/Club/Hers.txt",
                       Overwrite="T")
        assert refused.status_code == 403, method
    assert club.content("/Club/Hers.txt") == b"hers"
    assert club.content("/Club/His.txt") == b"his"
    allowed = walt("MOVE", "/dav/Club/His.txt", Destination="/dav/Club/His2.txt", Overwrite="T")
    assert allowed.status_code == 204
    assert club.content("/Club/His2.txt") == b"his"


def test_copy_belongs_to_the_copier_and_keeps_the_classification(club: Club) -> None:
    """Rule 8: a COPY is owned by the copier; the degree comes along."""
    dave_writer = club.as_("mia")
    with club.runtime.sessions() as session:
        node = node_admin.resolve_path(session, "/Club/Public.txt")
        node_admin.node_set(session, node, min_degree=1)
        session.commit()
    assert dave_writer("COPY", "/dav/Club/Public.txt",
                       Destination="/dav/Club/Copy.txt").status_code == 201
    props = dave_writer("PROPFIND", "/dav/Club/Copy.txt", DRIVE_PROPS, Depth="0").data
    assert b"<d:owner>mia</d:owner>" in props.replace(b"ns0:", b"d:") or b">mia<" in props
    assert b">1<" in props  # degree kept


DRIVE_PROPS = (
    '<?xml version="1.0"?><D:propfind xmlns:D="DAV:" xmlns:d="urn:davdrive"><D:prop>'
    "<d:degree/><d:doc-type/><d:visibility/><d:owner/><d:protected/><d:effective-access/>"
    "</D:prop></D:propfind>"
)


def _props(dav: Dav, path: str) -> dict[str, str]:
    from lxml import etree

    root = etree.fromstring(dav("PROPFIND", "/dav" + path, DRIVE_PROPS, Depth="0").data)
    values: dict[str, str] = {}
    for propstat in root.iter("{DAV:}propstat"):
        status = propstat.findtext("{DAV:}status") or ""
        for prop in propstat.iter():
            if prop.tag.startswith("{urn:davdrive}") and " 200 " in status:
                values[prop.tag.split("}")[1]] = prop.text or ""
    return values


def test_drive_properties_tell_classification_owner_and_access(club: Club) -> None:
    wendy = club.as_("wendy")
    wendy("PUT", "/dav/Club/Own.txt", "x")
    assert _props(wendy, "/Club/Own.txt") == {
        "degree": "0", "doc-type": "", "visibility": "shared", "owner": "wendy",
        "protected": "false", "effective-access": "see read modify delete move set_visibility",
    }
    carol = _props(club.as_("carol"), "/Club/Fixed.txt")
    assert carol["owner"] == "system" and carol["protected"] == "true"
    assert carol["effective-access"] == "see read"
    allprop = wendy("PROPFIND", "/dav/Club/Own.txt", Depth="0").data
    assert b"urn:davdrive" not in allprop


def _proppatch(*props: str, remove: bool = False) -> str:
    verb = "remove" if remove else "set"
    return (
        '<?xml version="1.0"?><D:propertyupdate xmlns:D="DAV:" xmlns:d="urn:davdrive" '
        f'xmlns:x="urn:x"><D:{verb}><D:prop>{"".join(props)}</D:prop></D:{verb}>'
        "</D:propertyupdate>"
    )


def test_proppatch_of_drive_properties_follows_the_policy_and_is_atomic(club: Club) -> None:
    wendy, mia = club.as_("wendy"), club.as_("mia")
    wendy("PUT", "/dav/Club/Report.txt", "r")
    # the owner is not a manager: degree refused (403), the dead property 424, nothing stored
    refused = wendy("PROPPATCH", "/dav/Club/Report.txt",
                    _proppatch("<d:degree>3</d:degree>", "<x:tag>v</x:tag>")).data
    assert b"403" in refused and b"424" in refused
    assert b"<x:tag" not in wendy("PROPFIND", "/dav/Club/Report.txt", Depth="0").data
    assert b"urn:x" not in wendy("PROPFIND", "/dav/Club/Report.txt", Depth="0").data
    assert _props(wendy, "/Club/Report.txt")["degree"] == "0"
    # the owner sets the visibility
    private = _proppatch("<d:visibility>private</d:visibility>")
    ok = wendy("PROPPATCH", "/dav/Club/Report.txt", private)
    assert b"200 OK" in ok.data and b"403" not in ok.data
    assert club.as_("walt")("GET", "/dav/Club/Report.txt").status_code == 404
    assert mia("GET", "/dav/Club/Report.txt").status_code == 200, "managers see private items"
    # a manager classifies; then a degree-1 member no longer sees it
    mia("PROPPATCH", "/dav/Club/Public.txt", _proppatch("<d:degree>3</d:degree>"))
    assert club.as_("carol")("GET", "/dav/Club/Public.txt").status_code == 404
    assert club.as_("dave")("GET", "/dav/Club/Public.txt").status_code == 200
    bad_type = mia("PROPPATCH", "/dav/Club/Public.txt", _proppatch("<d:doc-type>nope</d:doc-type>"))
    assert b"400" in bad_type.data or b"403" in bad_type.data
    # computed properties are read-only, even for a document administrator
    ro = club.as_("ada")("PROPPATCH", "/dav/Club/Public.txt",
                         _proppatch("<d:owner>ada</d:owner>", "<d:protected>true</d:protected>"))
    assert ro.data.count(b"403") >= 1 and b"cannot-modify-protected-property" in ro.data
    assert b" object at 0x" not in ro.data and b"Traceback" not in ro.data
    assert _props(club.as_("ada"), "/Club/Public.txt")["owner"] == "system"


def test_a_drop_box_keeps_each_writers_files_to_themselves(club: Club) -> None:
    with club.runtime.sessions() as session:
        drive = Drive(session, club.runtime.blobs, SYSTEM, club.runtime.drive_options)
        box = drive.make_folder(node_admin.resolve_path(session, "/Club"), "Photos")
        node_admin.node_set(session, box, new_files_private=True)
        session.commit()
    wendy, walt, mia = club.as_("wendy"), club.as_("walt"), club.as_("mia")
    assert wendy("PUT", "/dav/Club/Photos/site.jpg", "jpeg").status_code == 201
    assert _props(wendy, "/Club/Photos/site.jpg")["visibility"] == "private"
    assert walt("GET", "/dav/Club/Photos/site.jpg").status_code == 404
    assert b"site.jpg" not in walt("PROPFIND", "/dav/Club/Photos/", Depth="1").data
    assert mia("GET", "/dav/Club/Photos/site.jpg").data == b"jpeg"


def test_a_pass_through_folder_lists_only_the_way_and_takes_nothing(club: Club) -> None:
    with club.runtime.sessions() as session:
        drive = Drive(session, club.runtime.blobs, SYSTEM, club.runtime.drive_options)
        board = drive.make_folder(tree.get_root(session), "Board")
        inner = drive.make_folder(board, "Open")
        put_file(drive, board, "Minutes.txt", SECRET)
        put_file(drive, inner, "Agenda.txt", b"agenda")
        node_admin.set_folder_rights(session, inner, {"member": "read"})
        session.commit()
    carol = club.as_("carol")
    listing = carol("PROPFIND", "/dav/Board/", Depth="1").data
    assert b"/dav/Board/Open/" in listing and b"Minutes" not in listing
    assert carol("GET", "/dav/Board/Open/Agenda.txt").data == b"agenda"
    assert carol("GET", "/dav/Board/Minutes.txt").status_code == 404
    assert _props(carol, "/Board")["effective-access"] == "see read"
    assert carol("PUT", "/dav/Board/x.txt", "x").status_code == 403
    assert carol("MKCOL", "/dav/Board/New").status_code == 403
    writer = club.as_("wendy")  # no right on /Board nor below: it does not exist for her
    assert writer("PROPFIND", "/dav/Board/", Depth="0").status_code == 404
    assert (writer("PUT", "/dav/Board/x.txt", "x").status_code
            == writer("PUT", "/dav/Nowhere/x.txt", "x").status_code)
