"""A full disk over the real server (issue 11, findings 5 and 6).

The data folder sits on a 24 MB tmpfs mounted by the test (root; required under
DAVDRIVE_STRICT). Rules: PUTs that fill it answer 507 Insufficient Storage, never
500; once it is full to the last byte every write method (PUT, MKCOL, PROPPATCH
inside its 207, COPY, MOVE, DELETE, LOCK on a new name) answers 507 or succeeds, never 500;
every acknowledged file reads back intact, no temp file is left, ``check`` is
clean; once space is back the server serves as before, without a restart.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from davdrive.check import run_check
from davdrive.policy import SYSTEM
from davdrive.settings import Settings, load_settings
from davdrive.trash_purge import purge_trash
from tests.conftest import LiveServer, basic
from tests.tmpfs import fill, small_filesystem

pytestmark = pytest.mark.live

AUTH = {"Authorization": basic("tester", "secret")}
MB = 1024 * 1024


@pytest.fixture
def settings(tmp_path: Path) -> Iterator[Settings]:
    with small_filesystem(tmp_path / "fs", "24m") as fs:
        yield load_settings(None, {}, {
            "data_dir": str(fs / "data"), "server.port": 0, "dav.max_upload_bytes": 10**12,
        })


def chunked(data: bytes) -> Iterator[bytes]:
    for i in range(0, len(data), 256 * 1024):
        yield data[i:i + 256 * 1024]


def test_a_full_disk_answers_507_keeps_everything_and_recovers(
    live: LiveServer, settings: Settings
) -> None:
    url = live.url + "/dav/"
    stored: dict[str, bytes] = {}
    statuses: list[int] = []
    for i in range(16):  # 16 x 2 MB into 24 MB: the disk fills halfway through
        body = os.urandom(2 * MB)
        # chunked: no length to refuse up front, the disk fills while the body streams
        answer = requests.put(f"{url}f{i}.bin", data=chunked(body), headers=AUTH, timeout=30)
        statuses.append(answer.status_code)
        assert answer.status_code in (201, 507), (i, answer.status_code, answer.text)
        if answer.status_code == 201:
            stored[f"f{i}.bin"] = body
        else:
            assert "space" in answer.text, answer.text
    assert 507 in statuses and stored, statuses

    filler = fill(settings.data_dir.parent)  # the very last bytes go too
    attempts = {
        "PUT": requests.put(url + "tiny.txt", data=b"x", headers=AUTH, timeout=30),
        "MKCOL": requests.request("MKCOL", url + "folder", headers=AUTH, timeout=30),
        "COPY": requests.request("COPY", url + "f0.bin", timeout=30,
                                 headers={**AUTH, "Destination": url + "copy.bin"}),
        "MOVE": requests.request("MOVE", url + "f1.bin", timeout=30,
                                 headers={**AUTH, "Destination": url + "moved.bin"}),
        "DELETE": requests.delete(url + "f2.bin", headers=AUTH, timeout=30),
        "LOCK": requests.request(
            "LOCK", url + "locked.txt", headers={**AUTH, "Timeout": "Second-60"}, timeout=30,
            data=b'<?xml version="1.0"?><D:lockinfo xmlns:D="DAV:"><D:lockscope>'
                 b"<D:exclusive/></D:lockscope><D:locktype><D:write/></D:locktype>"
                 b"</D:lockinfo>"),
        "PROPPATCH": requests.request(
            "PROPPATCH", url + "f0.bin", headers=AUTH, timeout=30,
            data=b'<?xml version="1.0"?><D:propertyupdate xmlns:D="DAV:" xmlns:Z="urn:z">'
                 b"<D:set><D:prop><Z:note>" + b"n" * 4000 + b"</Z:note></D:prop></D:set>"
                 b"</D:propertyupdate>"),
    }
    for method, answer in attempts.items():
        assert answer.status_code in (200, 201, 204, 207, 507), (method, answer.status_code)
        assert "Traceback" not in answer.text and "sqlite" not in answer.text.lower()
        if method == "PROPPATCH":
            assert " 500 " not in answer.text, answer.text
    # What succeeded anyway (a write that found room) must show in what is read back.
    if attempts["COPY"].ok:
        stored["copy.bin"] = stored["f0.bin"]
    if attempts["MOVE"].ok:
        stored["moved.bin"] = stored.pop("f1.bin")
    if attempts["DELETE"].ok:
        stored.pop("f2.bin")
    assert attempts["PUT"].status_code == 507  # not one byte free for the blob

    assert list((settings.blob_dir / "tmp").iterdir()) == []
    for name, body in stored.items():
        got = requests.get(url + name, headers=AUTH, timeout=30)
        assert got.status_code == 200 and hashlib.sha256(got.content).digest() == \
            hashlib.sha256(body).digest(), name
    with live.app.runtime.sessions() as session:
        report = run_check(session, live.app.runtime.blobs)
        assert report.ok, [p.line() for p in report.problems]

    filler.unlink()  # space is back: service as before, same process
    gone = next(iter(stored))
    assert requests.delete(url + gone, headers=AUTH, timeout=30).status_code == 204
    # A DELETE keeps the file in the trash: an administrator empties it to make room
    # (``davdrive trash purge``; here at once, the blob being only minutes old).
    with live.app.runtime.sessions() as session:
        purged = purge_trash(session, live.app.runtime.blobs, SYSTEM, older_than_days=0,
                             min_age=0)
        session.commit()
    assert purged.collected.bytes >= 2 * MB
    again = os.urandom(MB)
    put = requests.put(url + "after.bin", data=again, headers=AUTH, timeout=30)
    assert put.status_code == 201, put.text
    assert requests.get(url + "after.bin", headers=AUTH, timeout=30).content == again
    assert requests.request("MKCOL", url + "later", headers=AUTH, timeout=30).status_code == 201


def test_a_chunked_upload_on_a_full_disk_answers_507_and_can_be_retried(
    live: LiveServer, settings: Settings
) -> None:
    """Nextcloud chunked upload (MKCOL, chunk PUTs, MOVE .file): a chunk PUT and the
    assembly that find no space answer 507, leave no temp file, and the same upload
    completes once space is back."""
    base = live.url + "/dav/uploads/tester/chunked-0001"
    assert requests.request("MKCOL", base + "/", headers=AUTH, timeout=30).status_code == 201
    parts = [os.urandom(3 * MB), os.urandom(3 * MB)]
    for i, part in enumerate(parts, 1):
        assert requests.put(f"{base}/{i}", data=part, headers=AUTH, timeout=30).status_code == 201
    filler = fill(settings.data_dir.parent)
    extra = requests.put(f"{base}/3", data=os.urandom(MB), headers=AUTH, timeout=30)
    assert extra.status_code == 507, extra.text
    move = {**AUTH, "Destination": live.url + "/dav/files/tester/big.bin",
            "OC-Total-Length": str(6 * MB)}
    failed = requests.request("MOVE", base + "/.file", headers=move, timeout=30)
    assert failed.status_code == 507, failed.text
    assert list((settings.blob_dir / "tmp").iterdir()) == []
    assert requests.get(live.url + "/dav/big.bin", headers=AUTH, timeout=30).status_code == 404

    filler.unlink()
    requests.delete(f"{base}/3", headers=AUTH, timeout=30)  # whatever of it was kept
    done = requests.request("MOVE", base + "/.file", headers=move, timeout=30)
    assert done.status_code == 201, done.text
    got = requests.get(live.url + "/dav/big.bin", headers=AUTH, timeout=30)
    assert got.content == b"".join(parts)
    with live.app.runtime.sessions() as session:
        assert run_check(session, live.app.runtime.blobs).ok
