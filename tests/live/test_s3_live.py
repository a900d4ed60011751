"""The real server with ``blobs.backend = "s3"`` against moto's S3 server.

Rules (docs/s3-storage.md): file contents live in the bucket under their
sha256; PUT, GET (byte for byte), Range GET, overwrite (the old content kept
as a version), DELETE then purge and collection (the object goes); a client
that hangs up mid-upload leaves the old content, no object, no multipart
upload; a body the bucket stored damaged is refused the same way. The last
test runs ``davdrive serve`` configured by environment variables only.
"""

from __future__ import annotations

import hashlib
import os
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from sqlalchemy import select

from davdrive import check, tree
from davdrive.blob_gc import collect_garbage
from davdrive.blob_s3 import S3Store
from davdrive.blob_s3_writer import S3Writer
from davdrive.models import Node, NodeVersion
from davdrive.passwords import Passwords
from davdrive.policy import SYSTEM
from davdrive.runtime import Runtime, open_runtime
from davdrive.server import create_app
from davdrive.services import Drive
from davdrive.settings import DB_FILE, load_settings
from davdrive.trash_purge import purge_trash
from tests.conftest import LiveServer, add_user, basic, serving
from tests.live.test_serve_cli import run_cli, start_server, stop
from tests.s3 import bucket_keys, multipart_uploads, s3_overrides

pytestmark = pytest.mark.live

MiB = 1024 * 1024
AUTH = {"Authorization": basic("tester", "secret")}


@pytest.fixture
def s3_runtime(
    tmp_path: Path, moto_endpoint: str, s3_bucket: str, fast_passwords: Passwords,
    database_url: str,
) -> Iterator[Runtime]:
    settings = load_settings(None, {}, {
        "data_dir": str(tmp_path / "data"), "server.port": 0, "database.url": database_url,
        **s3_overrides(moto_endpoint, s3_bucket),
    })
    runtime = open_runtime(settings, fast_passwords)
    with runtime.sessions() as session:
        tree.get_root(session)
        session.commit()
    add_user(runtime, "tester", "secret", documents="write")
    yield runtime
    runtime.close()


@pytest.fixture
def s3_live(s3_runtime: Runtime) -> Iterator[LiveServer]:
    with serving(create_app(s3_runtime.settings, s3_runtime)) as server:
        yield server


def store_of(live: LiveServer) -> S3Store:
    store = live.app.runtime.blobs
    assert isinstance(store, S3Store)
    return store


def blob_key(store: S3Store, data: bytes) -> str:
    return store.keys.blob(hashlib.sha256(data).hexdigest())


def temp_and_uploads(store: S3Store) -> tuple[list[str], list[str]]:
    temp = [k for k in bucket_keys(store) if k.startswith(store.keys.temp_prefix)]
    return temp, multipart_uploads(store)


def put(live: LiveServer, path: str, data: bytes) -> requests.Response:
    return requests.put(live.url + path, data=data, headers=AUTH, timeout=60)


def get(live: LiveServer, path: str, **headers: str) -> requests.Response:
    return requests.get(live.url + path, headers={**AUTH, **headers}, timeout=60)


def test_put_then_get_byte_for_byte_and_ranges_from_the_bucket(s3_live: LiveServer) -> None:
    store = store_of(s3_live)
    medium, large = os.urandom(200_000), os.urandom(12 * MiB + 17)  # one PUT; three parts
    assert put(s3_live, "/dav/medium.bin", medium).status_code == 201
    assert put(s3_live, "/dav/large.bin", large).status_code == 201
    keys = bucket_keys(store)
    assert blob_key(store, medium) in keys and blob_key(store, large) in keys
    assert temp_and_uploads(store) == ([], [])
    for path, data in (("/dav/medium.bin", medium), ("/dav/large.bin", large)):
        whole = get(s3_live, path)
        assert whole.status_code == 200 and whole.content == data
        assert whole.headers["ETag"] == f'"{hashlib.sha256(data).hexdigest()}"'
    middle = get(s3_live, "/dav/large.bin", Range="bytes=6000000-6000999")
    assert middle.status_code == 206 and middle.content == large[6_000_000:6_001_000]
    assert middle.headers["Content-Range"] == f"bytes 6000000-6000999/{len(large)}"
    tail = get(s3_live, "/dav/large.bin", Range="bytes=-500")
    assert tail.status_code == 206 and tail.content == large[-500:]


def test_small_files_stay_in_the_database(s3_live: LiveServer) -> None:
    store = store_of(s3_live)
    assert put(s3_live, "/dav/note.txt", b"a small note").status_code == 201
    assert get(s3_live, "/dav/note.txt").content == b"a small note"
    assert bucket_keys(store) == []


def test_overwrite_keeps_the_old_content_as_a_version(s3_live: LiveServer) -> None:
    store = store_of(s3_live)
    first, second = b"first " * 50_000, b"second " * 50_000
    assert put(s3_live, "/dav/report.bin", first).status_code == 201
    assert put(s3_live, "/dav/report.bin", second).status_code == 204
    assert get(s3_live, "/dav/report.bin").content == second
    assert {blob_key(store, first), blob_key(store, second)} <= set(bucket_keys(store))
    runtime = s3_live.app.runtime
    with runtime.sessions() as session:
        node = session.scalars(select(Node).where(Node.name == "report.bin")).one()
        version = session.scalars(select(NodeVersion).where(NodeVersion.node_id == node.id)).one()
        assert version.blob_sha256 == hashlib.sha256(first).hexdigest()
        Drive(session, runtime.blobs, SYSTEM, runtime.drive_options).restore_version(
            node, version.id)
    assert get(s3_live, "/dav/report.bin").content == first


def test_delete_then_purge_and_collection_remove_the_object(s3_live: LiveServer) -> None:
    store = store_of(s3_live)
    data = os.urandom(300_000)
    assert put(s3_live, "/dav/gone.bin", data).status_code == 201
    assert requests.delete(s3_live.url + "/dav/gone.bin", headers=AUTH,
                           timeout=10).status_code == 204
    assert blob_key(store, data) in bucket_keys(store), "in the trash: still restorable"
    runtime = s3_live.app.runtime
    with runtime.sessions() as session:
        purged = purge_trash(session, runtime.blobs, SYSTEM, older_than_days=0, min_age=0)
        session.commit()
        collect_garbage(session, runtime.blobs, min_age=0)
        session.commit()
    assert purged.items == 1
    assert blob_key(store, data) not in bucket_keys(store)
    with runtime.sessions() as session:
        report = check.run_check(session, runtime.blobs)
    assert report.ok, [p.line() for p in report.problems]


def send_truncated_put(live: LiveServer, path: str, announced: int, sent: bytes) -> None:
    """Announce ``announced`` bytes, send ``sent``, then hang up."""
    with socket.create_connection(("127.0.0.1", live.port), timeout=10) as sock:
        head = (f"PUT {path} HTTP/1.1\r\nHost: 127.0.0.1:{live.port}\r\n"
                f"Authorization: {AUTH['Authorization']}\r\n"
                f"Content-Length: {announced}\r\n\r\n")
        sock.sendall(head.encode())
        for start in range(0, len(sent), MiB):
            sock.sendall(sent[start:start + MiB])
        time.sleep(0.5)  # the server stores what came (a part goes up)


def test_a_client_gone_mid_upload_leaves_nothing_visible(s3_live: LiveServer) -> None:
    store = store_of(s3_live)
    old = os.urandom(100_000)
    assert put(s3_live, "/dav/doc.bin", old).status_code == 201
    before = bucket_keys(store)
    send_truncated_put(s3_live, "/dav/doc.bin", 16 * MiB, os.urandom(11 * MiB))
    send_truncated_put(s3_live, "/dav/new.bin", 16 * MiB, os.urandom(6 * MiB))
    deadline = time.monotonic() + 15
    while temp_and_uploads(store) != ([], []) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert temp_and_uploads(store) == ([], []), "the aborted uploads' parts are gone"
    assert bucket_keys(store) == before
    assert get(s3_live, "/dav/doc.bin").content == old
    assert get(s3_live, "/dav/new.bin").status_code == 404


def test_a_body_the_bucket_stored_damaged_is_refused_and_the_old_content_stays(
    s3_live: LiveServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The stored object's ETag is not the MD5 of what was hashed: 503, the previous
    content is still served, and nothing of the upload stays in the bucket."""
    store = store_of(s3_live)
    old = os.urandom(100_000)
    assert put(s3_live, "/dav/kept.bin", old).status_code == 201
    before = bucket_keys(store)

    def damaged(self: S3Writer, data: bytearray) -> bytes:
        return bytes(data[:-1]) + bytes([data[-1] ^ 1])

    monkeypatch.setattr(S3Writer, "_send", damaged)
    assert put(s3_live, "/dav/kept.bin", os.urandom(6 * MiB)).status_code == 503
    monkeypatch.undo()
    assert get(s3_live, "/dav/kept.bin").content == old
    assert bucket_keys(store) == before and multipart_uploads(store) == []


def test_davdrive_serve_configured_by_environment_stores_in_the_bucket(
    tmp_path: Path, moto_endpoint: str, s3_bucket: str, monkeypatch: pytest.MonkeyPatch,
    database_url: str,
) -> None:
    """``init``, ``user add`` and ``serve`` configured by the environment only; with
    ``--database=postgresql`` the metadata is on PostgreSQL too (DAVDRIVE_DATABASE_URL,
    set by the ``database_url`` fixture): the scale-out configuration."""
    for name, value in s3_overrides(moto_endpoint, s3_bucket).items():
        monkeypatch.setenv("DAVDRIVE_" + name.replace(".", "_").upper(), str(value))
    data = tmp_path / "data"
    assert run_cli(data, "init").returncode == 0
    added = run_cli(data, "user", "add", "tester", "--category", "admin", "--password-stdin",
                    stdin="secret-for-s3-test\n")
    assert added.returncode == 0, added.stderr
    server, url = start_server(data)
    try:
        body = os.urandom(6 * MiB)
        auth = {"Authorization": basic("tester", "secret-for-s3-test")}
        assert requests.put(url + "big.bin", data=body, headers=auth, timeout=60).status_code == 201
        got = requests.get(url + "big.bin", headers=auth, timeout=60)
        assert got.status_code == 200 and got.content == body
    finally:
        stop(server)
    digest = hashlib.sha256(body).hexdigest()
    assert f"blobs/{digest[:2]}/{digest[2:4]}/{digest}" in keys_of(moto_endpoint, s3_bucket)
    assert not (data / "blobs").exists() or not any((data / "blobs").rglob(digest))
    assert (data / DB_FILE).exists() == (not database_url)


def keys_of(endpoint: str, bucket: str) -> list[str]:
    from davdrive.blob_s3_client import make_client
    from tests.s3 import s3_settings

    client = make_client(s3_settings(endpoint, bucket))
    return [obj["Key"] for obj in client.list_objects_v2(Bucket=bucket).get("Contents", [])]
