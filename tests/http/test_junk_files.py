"""Junk files of desktop clients are accepted and never kept.

Rule (DESIGN 6, client quirks; setting ``dav.junk_names``): macOS ``._*`` and
``.DS_Store``, Windows ``Thumbs.db`` and ``desktop.ini`` are accepted (PUT 201, LOCK 201,
UNLOCK and DELETE 204) wherever the user could create a file, then are not there: GET
and PROPFIND 404, never listed, nothing stored. Elsewhere the usual refusals apply.
Folders of such names and Office owner files (``~$*``) are ordinary items.
"""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from davdrive.models import Blob, Node
from davdrive.runtime import Runtime
from davdrive.settings import Settings, load_settings
from provider.fast_propfind import PAGE
from tests.conftest import Dav, add_user, basic

RCLONE = (
    '<?xml version="1.0"?><D:propfind xmlns:D="DAV:"><D:prop><D:resourcetype/>'
    "<D:getcontentlength/><D:getlastmodified/><D:getetag/></D:prop></D:propfind>"
)
JUNK = ["._report.docx", ".DS_Store", "Thumbs.db", "desktop.ini", "THUMBS.DB", "Desktop.ini"]
LOCKINFO = (
    '<?xml version="1.0" encoding="utf-8" ?><D:lockinfo xmlns:D="DAV:"><D:lockscope>'
    "<D:exclusive/></D:lockscope><D:locktype><D:write/></D:locktype>"
    "<D:owner><D:href>tester</D:href></D:owner></D:lockinfo>"
)


def stored_nodes(runtime: Runtime) -> int:
    with runtime.sessions() as session:
        return session.scalar(select(func.count()).select_from(Node)) or 0


@pytest.mark.parametrize("name", JUNK)
def test_junk_put_is_accepted_and_not_kept(dav: Dav, runtime: Runtime, name: str) -> None:
    """PUT /dav/<junk> -> 201, then GET and PROPFIND 404, and no row was written."""
    before = stored_nodes(runtime)
    response = dav("PUT", f"/dav/{name}", b"\x00\x05\x16\x07 apple double")
    assert response.status_code == 201, response.data
    assert dav("GET", f"/dav/{name}").status_code == 404
    assert dav("PROPFIND", f"/dav/{name}", Depth="0").status_code == 404
    assert stored_nodes(runtime) == before
    assert dav("PUT", f"/dav/{name}", b"again").status_code == 201  # still not there


def test_junk_is_never_listed(dav: Dav) -> None:
    assert dav("MKCOL", "/dav/Photos/").status_code == 201
    assert dav("PUT", "/dav/Photos/cat.jpg", b"jpeg").status_code == 201
    for name in JUNK[:4]:
        assert dav("PUT", f"/dav/Photos/{name}", b"junk").status_code == 201
    listing = dav("PROPFIND", "/dav/Photos/", Depth="1").data
    assert listing.count(b"<D:href>") == 2, listing  # the folder and cat.jpg
    assert b"cat.jpg" in listing


def test_junk_rows_kept_from_before_are_never_listed(dav: Dav, runtime: Runtime) -> None:
    """Files of junk names stored before (a drive upgraded, a changed ``dav.junk_names``)
    are left out of PROPFIND /dav/Old/ Depth 1, whatever the property set, also among
    many ordinary names and on a later page."""
    assert dav("MKCOL", "/dav/Old/").status_code == 201
    assert dav("PUT", "/dav/Old/keep.txt", b"kept").status_code == 201
    ordinary = [f"n{i:04d}.txt" for i in range(PAGE + 10)]
    with runtime.sessions() as session:
        kept = session.scalars(select(Node).where(Node.name == "keep.txt")).one()
        session.add_all(
            Node(parent_id=kept.parent_id, name=name, name_key=name.casefold(), kind="file",
                 owner_id=kept.owner_id, blob_sha256=kept.blob_sha256, size=4,
                 content_type="text/plain", mtime=0)
            for name in [*JUNK[:4], "zz._late", "._zz", *ordinary]
        )
        session.commit()
    for body in ("", RCLONE):
        listing = dav("PROPFIND", "/dav/Old/", body, Depth="1").data
        for name in JUNK[:4] + ["._zz"]:
            assert f"/{name}<".encode() not in listing, (body, name)
        assert listing.count(b"<D:href>") == 1 + 1 + 1 + len(ordinary), body


def test_finder_sequence_on_a_junk_name_succeeds(dav: Dav, runtime: Runtime) -> None:
    """Finder: LOCK ._x (201), chunked PUT with X-Expected-Entity-Length under the lock
    (201), UNLOCK (204), DELETE (204); nothing is stored at any point."""
    before = stored_nodes(runtime)
    lock = dav("LOCK", "/dav/._notes.txt", LOCKINFO, Depth="0", Timeout="Second-600")
    assert lock.status_code == 201, lock.data
    token = lock.headers["Lock-Token"]
    assert b"opaquelocktoken:" in lock.data
    put = dav("PUT", "/dav/._notes.txt", b"x" * 4096, If=f"({token})",
              X_Expected_Entity_Length="4096")
    assert put.status_code == 201, put.data
    assert dav("UNLOCK", "/dav/._notes.txt", Lock_Token=token).status_code == 204
    assert dav("DELETE", "/dav/._notes.txt").status_code == 204
    assert stored_nodes(runtime) == before
    assert dav("GET", "/dav/._notes.txt").status_code == 404


def test_junk_content_is_not_stored_as_a_blob(dav: Dav, runtime: Runtime) -> None:
    body = b"unique desktop.ini content 8c2f"
    assert dav("PUT", "/dav/desktop.ini", body).status_code == 201
    import hashlib

    with runtime.sessions() as session:
        assert session.get(Blob, hashlib.sha256(body).hexdigest()) is None


def test_junk_put_keeps_the_usual_refusals(dav: Dav, runtime: Runtime) -> None:
    """Where the user may not create, a junk PUT gets what any PUT gets: 403 for a reader,
    409 for a missing folder; a hidden folder is 404/409 as if missing."""
    add_user(runtime, "reader", "secret", documents="read")
    reader = Dav(dav.client, basic("reader", "secret"))
    assert reader("PUT", "/dav/.DS_Store", b"x").status_code == 403
    assert reader("LOCK", "/dav/._a", LOCKINFO, Depth="0").status_code == 403
    assert dav("PUT", "/dav/missing/.DS_Store", b"x").status_code == 409


def test_office_owner_files_and_junk_named_folders_are_ordinary(dav: Dav) -> None:
    """~$report.docx (Word's owner file) is a normal file; MKCOL of a junk name makes a
    normal folder (the rule is for files)."""
    assert dav("PUT", "/dav/~$report.docx", b"owner").status_code == 201
    assert dav("GET", "/dav/~$report.docx").data == b"owner"
    assert dav("MKCOL", "/dav/._folder/").status_code == 201
    assert dav("PROPFIND", "/dav/._folder/", Depth="0").status_code == 207


def test_a_file_is_not_moved_or_copied_onto_a_junk_name(dav: Dav) -> None:
    """MOVE /dav/notes.txt -> /dav/.DS_Store would make the file vanish: 403, and the
    file stays where it was."""
    assert dav("PUT", "/dav/notes.txt", b"keep me").status_code == 201
    for method in ("MOVE", "COPY"):
        response = dav(method, "/dav/notes.txt", Destination="http://localhost/dav/.DS_Store")
        assert response.status_code == 403, response.data
        assert b"not kept" in response.data
    assert dav("GET", "/dav/notes.txt").data == b"keep me"


class TestJunkListSetting:
    @pytest.fixture
    def settings(self, tmp_path: object) -> Settings:
        return load_settings(None, {}, {
            "data_dir": f"{tmp_path}/data", "server.port": 0,
            "dav.junk_names": [".DS_Store"],
        })

    def test_the_junk_list_is_a_setting(self, dav: Dav) -> None:
        """With dav.junk_names = [".DS_Store"], Thumbs.db is an ordinary file again."""
        assert dav("PUT", "/dav/Thumbs.db", b"thumbs").status_code == 201
        assert dav("GET", "/dav/Thumbs.db").data == b"thumbs"
        assert dav("PUT", "/dav/.DS_Store", b"x").status_code == 201
        assert dav("GET", "/dav/.DS_Store").status_code == 404
