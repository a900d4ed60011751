"""Large PUT bodies through the direct socket reads and the parallel hashes (issue 12).

Rules (docs/large-files-and-workers.md, docs/durable-writes.md): a PUT stores
exactly the bytes sent and records their sha256 as hashlib computes it; the
ownCloud checksums (sha1, md5) are hashlib's too, computed when first shown and
then stored, or while receiving for the algorithm of an ``OC-Checksum``; an
``OC-Checksum`` (SHA1 or MD5) that does not match a large body is refused
(400) and stores nothing, a matching one is accepted; the connection then serves
the next request (no byte of the body is lost or left over).
"""

from __future__ import annotations

import hashlib
import os

import pytest
import requests
from sqlalchemy import select

from davdrive.models import Blob
from davdrive.server import DriveApp
from tests.conftest import LiveServer, basic

pytestmark = pytest.mark.live

AUTH = {"Authorization": basic("tester", "secret")}
MiB = 1 << 20


@pytest.mark.parametrize("size", [MiB - 1, 3 * MiB + 5, 20 * MiB])
def test_put_records_the_digests_of_the_bytes_sent(
    app: DriveApp, live: LiveServer, size: int
) -> None:
    """PUT /dav/u.bin (SIZE bytes), then GET on the same connection: the blob row's
    sha256/size equal hashlib's (no sha1/md5 yet), the GET returns the bytes; a
    PROPFIND of oc:checksums then shows hashlib's sha1/md5, now stored in the row."""
    data = os.urandom(size)
    sha1 = hashlib.sha1(data, usedforsecurity=False).hexdigest()
    md5 = hashlib.md5(data, usedforsecurity=False).hexdigest()
    sha256 = hashlib.sha256(data).hexdigest()
    with requests.Session() as http:
        put = http.put(f"{live.url}/dav/u.bin", data=data, headers=AUTH, timeout=60)
        assert put.status_code == 201, put.text
        got = http.get(f"{live.url}/dav/u.bin", headers=AUTH, timeout=60)
        assert got.status_code == 200 and got.content == data
        assert _row(app, sha256) == (None, None, size)
        listing = http.request("PROPFIND", f"{live.url}/dav/u.bin", headers={**AUTH, "Depth": "0"},
                               data=CHECKSUMS, timeout=60)
        assert listing.status_code == 207
        assert f"SHA1:{sha1} MD5:{md5} SHA256:{sha256}" in listing.text
    assert _row(app, sha256) == (sha1, md5, size)


CHECKSUMS = ('<?xml version="1.0"?><d:propfind xmlns:d="DAV:" xmlns:oc="http://owncloud.org/ns">'
             "<d:prop><oc:checksums/></d:prop></d:propfind>")


def _row(app: DriveApp, sha256: str) -> tuple[str | None, str | None, int]:
    with app.runtime.sessions() as session:
        blob = session.scalars(select(Blob).where(Blob.sha256 == sha256)).one()
        return blob.sha1, blob.md5, blob.size


@pytest.mark.parametrize("algorithm", ["SHA1", "MD5"])
def test_oc_checksum_of_a_large_body_is_checked(
    app: DriveApp, live: LiveServer, algorithm: str
) -> None:
    """PUT /dav/c.bin (6 MiB) with a wrong OC-Checksum: 400 and no file; with the
    right one: 201, and the row holds that checksum, computed while receiving."""
    data = os.urandom(6 * MiB)
    right = hashlib.new(algorithm.lower(), data).hexdigest()
    wrong = hashlib.new(algorithm.lower(), data + b"x").hexdigest()
    url = f"{live.url}/dav/c-{algorithm}.bin"
    refused = requests.put(url, data=data, timeout=60,
                           headers={**AUTH, "OC-Checksum": f"{algorithm}:{wrong}"})
    assert refused.status_code == 400
    assert requests.get(url, headers=AUTH, timeout=10).status_code == 404
    accepted = requests.put(url, data=data, timeout=60,
                            headers={**AUTH, "OC-Checksum": f"{algorithm}:{right}"})
    assert accepted.status_code == 201
    sha1, md5, _ = _row(app, hashlib.sha256(data).hexdigest())
    assert (sha1 if algorithm == "SHA1" else md5) == right
    assert (md5 if algorithm == "SHA1" else sha1) is None
