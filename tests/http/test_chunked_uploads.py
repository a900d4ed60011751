"""Nextcloud chunked upload v2 under /dav/uploads/LOGIN/ (what rclone's nextcloud vendor
does for files over its chunk size): MKCOL, numbered chunk PUTs, MOVE of .file with
Destination and OC-Total-Length; the result is one file stored as a PUT would store it,
the chunks are never drive items and are removed after assembly."""

from __future__ import annotations

import hashlib
import os
import time

import pytest

from davdrive.runtime import Runtime
from davdrive.server import DriveApp
from provider.chunk_uploads import EXPIRY_SECONDS
from tests.conftest import Dav, add_user, basic, stored_bytes

UP = "/dav/uploads/tester/rclone-chunked-upload-0123abcd"


def upload(dav: Dav, chunks: dict[str, bytes], base: str = UP) -> None:
    assert dav("MKCOL", base + "/").status_code == 201
    for name, data in chunks.items():
        assert dav("PUT", f"{base}/{name}", data).status_code == 201


def assemble(dav: Dav, destination: str, total: int | None, base: str = UP, **headers: str):  # type: ignore[no-untyped-def]
    if total is not None:
        headers["OC_Total_Length"] = str(total)
    return dav("MOVE", f"{base}/.file", Destination=destination, **headers)


def test_chunks_are_assembled_in_order_into_one_file(dav: Dav) -> None:
    """Chunks named by offset (rclone) are joined in order; 201, exact content, mtime kept,
    X-OC-MTime: accepted; the upload folder is gone afterwards."""
    parts = {"000000000000000-000000000000004": b"hello",
             "000000000000005-000000000000005": b" ",
             "000000000000006-000000000000010": b"world"}
    upload(dav, parts)
    response = assemble(dav, "http://localhost/dav/files/tester/big.bin", 11,
                        X_OC_Mtime="1700000000")
    assert response.status_code == 201, response.data
    assert response.headers["X-OC-MTime"] == "accepted"
    got = dav("GET", "/dav/big.bin")
    assert got.data == b"hello world"
    assert got.headers["Last-Modified"] == "Tue, 14 Nov 2023 22:13:20 GMT"
    assert dav("DELETE", UP + "/").status_code == 404


def test_numbered_chunks_follow_their_numbers(dav: Dav) -> None:
    """Nextcloud's own numbering 1..N: chunk 10 comes after chunk 2."""
    chunks = {str(i): bytes([65 + i]) for i in range(1, 12)}
    upload(dav, chunks)
    assert assemble(dav, "/dav/n.bin", 11).status_code == 201
    assert dav("GET", "/dav/n.bin").data == b"".join(chunks[str(i)] for i in range(1, 12))


def test_assembly_over_an_existing_file_replaces_it(dav: Dav) -> None:
    """MOVE .file onto an existing file: 204, new content, as a PUT."""
    assert dav("PUT", "/dav/x.bin", b"old").status_code == 201
    upload(dav, {"1": b"new"})
    assert assemble(dav, "/dav/x.bin", 3).status_code == 204
    assert dav("GET", "/dav/x.bin").data == b"new"


def test_chunks_are_never_drive_items(dav: Dav) -> None:
    """While an upload is in progress the drive lists nothing new."""
    upload(dav, {"1": b"abc"})
    listing = dav("PROPFIND", "/dav/", Depth="1")
    assert listing.data.count(b"<D:href>") == 1
    assert b"rclone-chunked" not in listing.data


def test_a_wrong_total_length_or_checksum_stores_nothing(dav: Dav) -> None:
    """OC-Total-Length different from the chunks, or a wrong OC-Checksum: 400, no file."""
    upload(dav, {"1": b"abc"})
    assert assemble(dav, "/dav/t.bin", 4).status_code == 400
    wrong = "SHA1:" + hashlib.sha1(b"abd", usedforsecurity=False).hexdigest()
    assert assemble(dav, "/dav/t.bin", 3, OC_Checksum=wrong).status_code == 400
    assert dav("GET", "/dav/t.bin").status_code == 404
    right = "SHA1:" + hashlib.sha1(b"abc", usedforsecurity=False).hexdigest()
    assert assemble(dav, "/dav/t.bin", 3, OC_Checksum=right).status_code == 201


def test_delete_drops_an_upload_and_a_missing_one_is_404(dav: Dav) -> None:
    """rclone purges the folder first: DELETE of a missing upload is 404, of one in
    progress 204; MKCOL of an existing upload is 405."""
    assert dav("DELETE", UP + "/").status_code == 404
    upload(dav, {"1": b"a"})
    assert dav("MKCOL", UP + "/").status_code == 405
    assert dav("DELETE", UP + "/").status_code == 204
    assert assemble(dav, "/dav/y.bin", 1).status_code == 404


def test_bad_names_and_methods_are_clear_4xx(dav: Dav) -> None:
    """A chunk outside an upload folder, a name with dots first, a GET: 4xx, no 500."""
    assert dav("PUT", UP + "/1", b"x").status_code == 404
    assert dav("MKCOL", "/dav/uploads/tester/.hidden/").status_code == 404
    assert dav("MKCOL", "/dav/uploads/tester/a/b/").status_code == 405
    assert dav("GET", UP + "/").status_code == 405
    upload(dav, {"1": b"a"})
    assert assemble(dav, "/dav/missing-folder/y.bin", 1).status_code == 409
    assert dav("MOVE", UP + "/.file").status_code == 400  # no Destination


def test_expired_uploads_are_removed_when_a_new_one_starts(
    dav: Dav, app: DriveApp, runtime: Runtime
) -> None:
    """An upload untouched for longer than the expiry is deleted at the next MKCOL, by
    any user; a recent one stays."""
    upload(dav, {"1": b"a"})
    upload(dav, {"1": b"a"}, base="/dav/uploads/tester/recent")
    user_dir = next((app.settings.data_dir / "chunks").iterdir())
    folder = user_dir / UP.rsplit("/", 1)[1]
    old = time.time() - EXPIRY_SECONDS - 10
    os.utime(folder, (old, old))
    add_user(runtime, "other", "secret", documents="write")
    other = Dav(dav.client, basic("other", "secret"))
    upload(other, {"1": b"b"}, base="/dav/uploads/other/second")
    assert not folder.exists()
    assert (user_dir / "recent").is_dir()


@pytest.fixture
def reader(app: DriveApp, runtime: Runtime, dav: Dav) -> Dav:
    add_user(runtime, "reader", "secret", documents="read")
    return Dav(dav.client, basic("reader", "secret"))


def test_a_reader_cannot_store_by_assembly(dav: Dav, reader: Dav) -> None:
    """Rights as for a PUT: a member who may only read gets 403 and nothing is stored,
    neither a new file nor over an existing one."""
    assert dav("PUT", "/dav/r.bin", b"keep").status_code == 201
    base = "/dav/uploads/reader/up"
    upload(reader, {"1": b"new"}, base=base)
    assert assemble(reader, "/dav/files/reader/r.bin", 3, base=base).status_code == 403
    assert assemble(reader, "/dav/other.bin", 3, base=base).status_code == 403
    assert dav("GET", "/dav/r.bin").data == b"keep"
    assert dav("GET", "/dav/other.bin").status_code == 404


def test_a_locked_destination_needs_its_token(dav: Dav) -> None:
    """A locked file is replaced by an assembly only with the lock token in If (else 423),
    as for a PUT."""
    assert dav("PUT", "/dav/l.bin", b"keep").status_code == 201
    lock = ('<?xml version="1.0"?><D:lockinfo xmlns:D="DAV:"><D:lockscope><D:exclusive/>'
            "</D:lockscope><D:locktype><D:write/></D:locktype></D:lockinfo>")
    locked = dav("LOCK", "/dav/l.bin", lock, Depth="0")
    assert locked.status_code == 200
    token = locked.headers["Lock-Token"]
    upload(dav, {"1": b"new"})
    assert assemble(dav, "/dav/l.bin", 3).status_code == 423
    assert dav("GET", "/dav/l.bin").data == b"keep"
    assert assemble(dav, "/dav/l.bin", 3, If=f"({token})").status_code == 204
    assert dav("GET", "/dav/l.bin").data == b"new"


def test_uploads_in_progress_are_capped_per_user(dav: Dav) -> None:
    """Past MAX_UPLOADS folders in progress, MKCOL is 507 and creates nothing; deleting
    one makes room again."""
    from provider.chunk_uploads import MAX_UPLOADS

    for i in range(MAX_UPLOADS):
        assert dav("MKCOL", f"/dav/uploads/tester/u{i}/").status_code == 201
    refused = dav("MKCOL", "/dav/uploads/tester/one-more/")
    assert refused.status_code == 507 and b"uploads" in refused.data
    assert dav("DELETE", "/dav/uploads/tester/one-more/").status_code == 404
    assert dav("DELETE", "/dav/uploads/tester/u0/").status_code == 204
    assert dav("MKCOL", "/dav/uploads/tester/one-more/").status_code == 201


def test_a_chunk_sent_twice_keeps_the_last_copy(dav: Dav) -> None:
    """rclone retries a chunk: the second PUT of one name replaces it (204)."""
    upload(dav, {"1": b"first"})
    assert dav("PUT", UP + "/1", b"again").status_code == 204
    assert assemble(dav, "/dav/twice.bin", 5).status_code == 201
    assert dav("GET", "/dav/twice.bin").data == b"again"


def test_chunks_add_up_to_the_upload_limit(runtime: Runtime, settings) -> None:  # type: ignore[no-untyped-def]
    """dav.max_upload_bytes bounds an upload's chunks together: the chunk that would pass
    it is 413 and is not kept; the assembled file stays within the limit."""
    from werkzeug.test import Client

    from davdrive.server import create_app
    from davdrive.settings import load_settings

    add_user(runtime, "tester", "secret", documents="write")
    small = load_settings(None, {}, {**settings.values, "dav.max_upload_bytes": 10})
    dav = Dav(Client(create_app(small, runtime)))
    upload(dav, {"1": b"123456"})
    assert dav("PUT", UP + "/2", b"789012").status_code == 413
    assert dav("PUT", UP + "/2", b"7890").status_code == 201
    assert assemble(dav, "/dav/ten.bin", 10).status_code == 201
    assert dav("GET", "/dav/ten.bin").data == b"1234567890"


def test_assembly_over_a_file_keeps_the_old_content_as_a_version(
    dav: Dav, runtime: Runtime
) -> None:
    """As a PUT does: replacing a file by an assembly keeps its previous content as a
    version (DESIGN: versions kept on overwrite)."""
    from davdrive.models import Node, NodeVersion

    assert dav("PUT", "/dav/v.bin", b"old content").status_code == 201
    upload(dav, {"1": b"new"})
    assert assemble(dav, "/dav/v.bin", 3).status_code == 204
    with runtime.sessions() as session:
        node = session.query(Node).filter_by(name="v.bin").one()
        versions = session.query(NodeVersion).filter_by(node_id=node.id).all()
        assert [v.size for v in versions] == [len(b"old content")]
        assert stored_bytes(runtime, versions[0].blob_sha256, versions[0].size) == b"old content"
