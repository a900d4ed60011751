"""ownCloud checksums computed on demand (issue 12, docs/durable-writes.md).

Rules: an upload without ``OC-Checksum`` computes only the sha256 that addresses
its content; every place that shows a sha1 or md5 (PROPFIND ``oc:checksums``,
PATCH ``X-Recalculate-Hash``) shows hashlib's digest of the stored bytes, for
content kept in the database and in the store alike; the digests are computed
once and stored in the blob row (a second ask hashes and writes nothing); an
``OC-Checksum`` upload of content already stored adds its checksum to the row;
damaged content gets no checksums rather than wrong ones. (Concurrent asks:
tests/live/test_checksums_concurrent.py.)
"""

from __future__ import annotations

import hashlib
import os

from sqlalchemy import select

from davdrive.models import Blob
from davdrive.server import DriveApp
from tests.conftest import Dav, recorded_statements

OC = "http://owncloud.org/ns"
CHECKSUMS = ('<?xml version="1.0"?><d:propfind xmlns:d="DAV:" xmlns:oc="http://owncloud.org/ns">'
             "<d:prop><oc:checksums/></d:prop></d:propfind>")
SMALL = b"kept in the database\n"  # below storage.inline_blob_bytes
LARGE = os.urandom(200 * 1024)  # above it: a file of the blob store


def _expected(data: bytes) -> str:
    return (f"SHA1:{hashlib.sha1(data, usedforsecurity=False).hexdigest()} "
            f"MD5:{hashlib.md5(data, usedforsecurity=False).hexdigest()} "
            f"SHA256:{hashlib.sha256(data).hexdigest()}")


def _row(app: DriveApp, data: bytes) -> tuple[str | None, str | None]:
    with app.runtime.sessions() as session:
        blob = session.scalars(
            select(Blob).where(Blob.sha256 == hashlib.sha256(data).hexdigest())).one()
        return blob.sha1, blob.md5


def _blob_updates(statements: list[str]) -> list[str]:
    return [s for s in statements if s.startswith("UPDATE blob")]


def test_checksums_are_exact_and_computed_once(dav: Dav, app: DriveApp) -> None:
    """PUT /dav/s.txt (in the database) and /dav/l.bin (in the store): no sha1/md5 in
    their rows; PROPFIND Depth 1 oc:checksums shows hashlib's for both and stores them
    (one UPDATE for the listing); the same PROPFIND again writes nothing."""
    assert dav("PUT", "/dav/s.txt", SMALL).status_code == 201
    assert dav("PUT", "/dav/l.bin", LARGE).status_code == 201
    assert _row(app, SMALL) == (None, None)
    assert _row(app, LARGE) == (None, None)
    for attempt in range(2):
        with recorded_statements(app.runtime.engine) as seen:
            response = dav("PROPFIND", "/dav/", CHECKSUMS, Depth="1")
        assert response.status_code == 207
        text = response.data.decode()
        assert _expected(SMALL) in text and _expected(LARGE) in text
        assert len(_blob_updates(seen)) == (1 if attempt == 0 else 0), seen
    for data in (SMALL, LARGE):
        assert _row(app, data) == (hashlib.sha1(data, usedforsecurity=False).hexdigest(),
                                   hashlib.md5(data, usedforsecurity=False).hexdigest())


def test_recalculate_hash_computes_and_stores(dav: Dav, app: DriveApp) -> None:
    """PATCH /dav/l.bin X-Recalculate-Hash: md5 on a fresh upload: hashlib's md5, now in
    the row (with the sha1 of the same read); sha1 asked next writes nothing."""
    assert dav("PUT", "/dav/l.bin", LARGE).status_code == 201
    response = dav("PATCH", "/dav/l.bin", X_Recalculate_Hash="md5")
    assert response.status_code == 200
    assert response.headers["OC-Checksum"] == (
        "MD5:" + hashlib.md5(LARGE, usedforsecurity=False).hexdigest())
    assert _row(app, LARGE)[1] == hashlib.md5(LARGE, usedforsecurity=False).hexdigest()
    with recorded_statements(app.runtime.engine) as seen:
        again = dav("PATCH", "/dav/l.bin", X_Recalculate_Hash="sha1")
    assert again.headers["OC-Checksum"] == (
        "SHA1:" + hashlib.sha1(LARGE, usedforsecurity=False).hexdigest())
    assert _blob_updates(seen) == []


def test_an_oc_checksum_upload_fills_the_row_of_known_content(dav: Dav, app: DriveApp) -> None:
    """PUT /dav/a.bin plainly, then the same bytes as /dav/b.bin with OC-Checksum SHA1:
    the shared row gains that sha1 (computed while receiving), md5 stays unknown; a
    wrong OC-Checksum on /dav/c.bin is a 400 and changes neither the row nor the tree."""
    assert dav("PUT", "/dav/a.bin", LARGE).status_code == 201
    sha1 = hashlib.sha1(LARGE, usedforsecurity=False).hexdigest()
    wrong = hashlib.md5(b"other", usedforsecurity=False).hexdigest()
    assert dav("PUT", "/dav/c.bin", LARGE, OC_Checksum=f"MD5:{wrong}").status_code == 400
    assert dav("GET", "/dav/c.bin").status_code == 404
    assert _row(app, LARGE) == (None, None)
    assert dav("PUT", "/dav/b.bin", LARGE, OC_Checksum=f"SHA1:{sha1}").status_code == 201
    assert _row(app, LARGE) == (sha1, None)


def test_damaged_content_gets_no_checksums(dav: Dav, app: DriveApp) -> None:
    """PUT /dav/l.bin, then its blob file changes on disk: PROPFIND oc:checksums answers
    404 for the property (no digest of the wrong bytes shown or stored)."""
    assert dav("PUT", "/dav/l.bin", LARGE).status_code == 201
    path = app.runtime.blobs.path(hashlib.sha256(LARGE).hexdigest())
    path.chmod(0o600)
    path.write_bytes(b"x" + LARGE[1:])
    response = dav("PROPFIND", "/dav/l.bin", CHECKSUMS, Depth="0")
    assert response.status_code == 207
    assert "SHA1:" not in response.data.decode()
    assert "404 Not Found" in response.data.decode()
    assert _row(app, LARGE) == (None, None)
