"""Large PUT bodies through the direct socket reads and the parallel hashes (issue 12).

Rules (docs/large-files-and-workers.md, docs/durable-writes.md): a PUT stores
exactly the bytes sent and records their sha256 as hashlib computes it; the
ownCloud checksums (sha1, md5) are hashlib's too, computed when first shown and
then stored, or while receiving for the algorithm of an ``OC-Checksum``; a
large body (read into reused buffers, stored on a helper thread) is stored whole
after a 100 Continue and not at all when the client hangs up midway; an
``OC-Checksum`` (SHA1 or MD5) that does not match a large body is refused
(400) and stores nothing, a matching one is accepted; the connection then serves
the next request (no byte of the body is lost or left over).
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import socket
import threading
import time

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


def _raw_put(live: LiveServer, path: str, announced: int, body: bytes, *,
             expect: bool = False) -> bytes:
    """PUT ``path`` on a raw socket announcing ``announced`` bytes, send ``body`` (after
    the 100 Continue when ``expect``), half-close; everything the server answered."""
    with socket.create_connection(("127.0.0.1", live.port), timeout=30) as sock:
        head = (f"PUT {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: {AUTH['Authorization']}"
                f"\r\nContent-Length: {announced}\r\nContent-Type: application/octet-stream\r\n"
                + ("Expect: 100-continue\r\n" if expect else "") + "\r\n")
        sock.sendall(head.encode())
        answer = b""
        if expect:
            while b"\r\n\r\n" not in answer:
                answer += sock.recv(4096)
            assert answer.startswith(b"HTTP/1.1 100 Continue\r\n\r\n")
        with contextlib.suppress(OSError):
            sock.sendall(body)
            sock.shutdown(socket.SHUT_WR)
        with contextlib.suppress(OSError):
            while chunk := sock.recv(65536):
                answer += chunk
    return answer


def test_a_large_put_after_100_continue_stores_the_bytes_sent(live: LiveServer) -> None:
    """PUT /dav/e.bin (9 MiB + 7) with Expect: 100-continue, the fast path's reads into
    reused buffers: 100 Continue first, then 201, and GET returns the bytes."""
    data = os.urandom(9 * MiB + 7)
    answer = _raw_put(live, "/dav/e.bin", len(data), data, expect=True)
    assert b"HTTP/1.1 201 Created\r\n" in answer
    got = requests.get(f"{live.url}/dav/e.bin", headers=AUTH, timeout=60)
    assert got.status_code == 200 and got.content == data


def test_a_large_put_cut_short_stores_nothing_and_leaves_no_thread(
    live: LiveServer,
) -> None:
    """PUT /dav/cut.bin announcing 16 MiB, 6 MiB sent, then the client hangs up: no
    file, no temp file, no upload thread left behind; the server keeps answering."""
    _raw_put(live, "/dav/cut.bin", 16 * MiB, os.urandom(6 * MiB))
    deadline = time.monotonic() + 10
    tmp = live.app.settings.data_dir / "blobs" / "tmp"
    while time.monotonic() < deadline and (
        list(tmp.iterdir()) or any(t.name == "upload-store" for t in threading.enumerate())
    ):
        time.sleep(0.05)
    assert list(tmp.iterdir()) == []
    assert not any(t.name == "upload-store" for t in threading.enumerate())
    assert requests.get(f"{live.url}/dav/cut.bin", headers=AUTH, timeout=10).status_code == 404
