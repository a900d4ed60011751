"""WebDAV operations on the node tree: create, copy, move, delete, names, versions."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from davdrive import node_admin, tree
from davdrive.errors import Conflict
from davdrive.models import Node, NodeVersion
from davdrive.policy import SYSTEM
from davdrive.runtime import Runtime
from davdrive.services import Drive
from tests.conftest import Dav, stored_bytes

PROPSET = (
    '<?xml version="1.0"?><D:propertyupdate xmlns:D="DAV:" xmlns:Z="urn:z">'
    "<D:set><D:prop><Z:colour>blue</Z:colour></D:prop></D:set></D:propertyupdate>"
)
PROPGET = (
    '<?xml version="1.0"?><D:propfind xmlns:D="DAV:" xmlns:Z="urn:z">'
    "<D:prop><Z:colour/></D:prop></D:propfind>"
)


def exists(dav: Dav, path: str) -> bool:
    status = dav("PROPFIND", path, Depth="0").status_code
    assert status in (207, 404)
    return status == 207


def test_mkcol_put_get_round_trip(dav: Dav) -> None:
    assert dav("MKCOL", "/dav/Board/").status_code == 201
    assert dav("PUT", "/dav/Board/minutes.txt", b"Meeting of 3 May").status_code == 201
    response = dav("GET", "/dav/Board/minutes.txt")
    assert response.status_code == 200
    assert response.data == b"Meeting of 3 May"
    assert response.headers["Content-Type"].startswith("text/plain")
    assert response.headers["X-Content-Type-Options"] == "nosniff"


def test_mkcol_without_parent_is_409_and_on_existing_is_405(dav: Dav) -> None:
    assert dav("MKCOL", "/dav/missing/child/").status_code == 409
    assert dav("MKCOL", "/dav/A/").status_code == 201
    assert dav("MKCOL", "/dav/A/").status_code == 405


def test_names_differing_only_by_case_cannot_coexist(dav: Dav) -> None:
    assert dav("MKCOL", "/dav/Reports/").status_code == 201
    assert dav("MKCOL", "/dav/reports/").status_code == 405  # it exists (same folder)
    assert dav("PUT", "/dav/Reports/Plan.txt", b"1").status_code == 201
    assert dav("PUT", "/dav/Reports/PLAN.TXT", b"2").status_code == 204  # same file
    listing = dav("PROPFIND", "/dav/Reports/", Depth="1").data
    assert listing.count(b"<D:href>") == 2
    assert dav("GET", "/dav/reports/plan.txt").data == b"2"


def test_windows_unsafe_names_are_refused_with_a_reason(dav: Dav) -> None:
    response = dav("PUT", "/dav/a%3Ab.txt", b"x")
    assert response.status_code == 400
    assert b"may not contain" in response.data
    assert dav("MKCOL", "/dav/CON/").status_code == 400
    assert not exists(dav, "/dav/CON/")


def test_put_on_a_folder_is_405(dav: Dav) -> None:
    dav("MKCOL", "/dav/F/")
    assert dav("PUT", "/dav/F", b"x").status_code == 405


def test_copy_answers_201_when_new_and_204_when_replacing(dav: Dav) -> None:
    dav("PUT", "/dav/a.txt", b"alpha")
    dav("PUT", "/dav/b.txt", b"beta")
    assert dav("COPY", "/dav/a.txt", Destination="/dav/c.txt").status_code == 201
    assert dav("COPY", "/dav/a.txt", Destination="/dav/b.txt").status_code == 204
    assert dav("GET", "/dav/b.txt").data == b"alpha"
    refused = dav("COPY", "/dav/a.txt", Destination="/dav/b.txt", Overwrite="F")
    assert refused.status_code == 412


def test_move_renames_and_keeps_dead_properties(dav: Dav) -> None:
    dav("PUT", "/dav/draft.txt", b"text")
    assert dav("PROPPATCH", "/dav/draft.txt", PROPSET).status_code == 207
    assert dav("MOVE", "/dav/draft.txt", Destination="/dav/final.txt").status_code == 201
    assert not exists(dav, "/dav/draft.txt")
    assert dav("GET", "/dav/final.txt").data == b"text"
    assert b"blue" in dav("PROPFIND", "/dav/final.txt", PROPGET, Depth="0").data


def test_copy_of_a_folder_copies_the_subtree_and_properties(dav: Dav) -> None:
    dav("MKCOL", "/dav/src/")
    dav("MKCOL", "/dav/src/inner/")
    dav("PUT", "/dav/src/inner/f.txt", b"deep")
    dav("PROPPATCH", "/dav/src/inner/f.txt", PROPSET)
    assert dav("COPY", "/dav/src/", Destination="/dav/dst/").status_code == 201
    assert dav("GET", "/dav/dst/inner/f.txt").data == b"deep"
    assert b"blue" in dav("PROPFIND", "/dav/dst/inner/f.txt", PROPGET, Depth="0").data
    assert dav("GET", "/dav/src/inner/f.txt").data == b"deep"


def test_move_into_own_subfolder_is_refused(dav: Dav) -> None:
    dav("MKCOL", "/dav/p/")
    dav("MKCOL", "/dav/p/q/")
    assert dav("MOVE", "/dav/p/", Destination="/dav/p/q/p/").status_code in (403, 409)
    assert exists(dav, "/dav/p/q/")


def test_the_move_use_case_never_puts_a_folder_into_itself(runtime: Runtime) -> None:
    """Not only WsgiDAV's check: ``Drive.move`` refuses it for every caller (409)."""
    with runtime.sessions() as session:
        drive = Drive(session, runtime.blobs, SYSTEM, runtime.drive_options)
        q, _ = node_admin.make_folders(session, drive, "/p/q")
        p = node_admin.resolve_path(session, "/p")
        session.commit()
        for into in (q, p):
            with pytest.raises(Conflict, match="into itself or into one of its subfolders"):
                drive.move(p, into, "p", None)
            session.rollback()
        assert tree.path_of(session, q) == ["p", "q"]
        drive.move(q, tree.get_root(session), "q", None)  # out of its parent is fine
        assert tree.path_of(session, q) == ["q"]


def test_delete_folder_moves_the_subtree_to_the_trash(dav: Dav, runtime: Runtime) -> None:
    dav("MKCOL", "/dav/old/")
    dav("PUT", "/dav/old/x.txt", b"x")
    assert dav("DELETE", "/dav/old/").status_code == 204
    assert not exists(dav, "/dav/old/")
    assert not exists(dav, "/dav/old/x.txt")
    with runtime.sessions() as session:
        trashed = session.scalars(select(Node).where(Node.name == "old")).one()
        assert trashed.deleted_at is not None
        child = session.scalars(select(Node).where(Node.name == "x.txt")).one()
        assert child.parent_id == trashed.id  # restorable as a whole
    # the name is free again at once
    assert dav("MKCOL", "/dav/old/").status_code == 201


def test_overwrite_keeps_previous_versions(dav: Dav, runtime: Runtime) -> None:
    for text in (b"v1", b"v2", b"v3"):
        dav("PUT", "/dav/budget.txt", text)
    with runtime.sessions() as session:
        node = session.scalars(select(Node).where(Node.name == "budget.txt")).one()
        versions = session.scalars(
            select(NodeVersion).where(NodeVersion.node_id == node.id).order_by(NodeVersion.id)
        ).all()
        kept = [stored_bytes(runtime, v.blob_sha256, v.size) for v in versions]
    assert kept == [b"v1", b"v2"]


def test_range_request_returns_the_requested_bytes(dav: Dav) -> None:
    dav("PUT", "/dav/r.bin", bytes(range(100)))
    response = dav("GET", "/dav/r.bin", Range="bytes=10-19")
    assert response.status_code == 206
    assert response.data == bytes(range(10, 20))


def test_oc_mtime_header_sets_the_modification_time(dav: Dav) -> None:
    dav("PUT", "/dav/m.txt", b"x", X_OC_Mtime="1700000000")
    response = dav("PROPFIND", "/dav/m.txt", Depth="0")
    assert b"Tue, 14 Nov 2023 22:13:20 GMT" in response.data


def test_delete_of_a_locked_file_without_token_is_423(dav: Dav) -> None:
    dav("PUT", "/dav/l.txt", b"x")
    lock = (
        '<?xml version="1.0"?><D:lockinfo xmlns:D="DAV:"><D:lockscope><D:exclusive/>'
        "</D:lockscope><D:locktype><D:write/></D:locktype><D:owner>me</D:owner></D:lockinfo>"
    )
    response = dav("LOCK", "/dav/l.txt", lock, Depth="0")
    assert response.status_code == 200
    token = response.headers["Lock-Token"]
    assert dav("DELETE", "/dav/l.txt").status_code == 423
    assert exists(dav, "/dav/l.txt")
    assert dav("DELETE", "/dav/l.txt", If=f"({token})").status_code == 204
    assert not exists(dav, "/dav/l.txt")
