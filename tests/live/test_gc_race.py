"""The garbage collection against uploads of the same content, over the real server.

Rule (DESIGN 4, issue 14): a blob that nothing uses is removed, never one still
referenced, even by an upload in flight. An upload stores its blob file first
and commits the row referring to it afterwards; between the two a collection
may find the blob unreferenced (the files that used it deleted and purged) and
remove it. The upload must still commit a row whose blob exists and hashes
right: every file answered 201 reads back whole, and ``davdrive check`` finds
no missing or corrupt blob.
"""

from __future__ import annotations

import hashlib
import http.client
import os
import threading
from pathlib import Path

import pytest

from davdrive.blob_gc import collect_garbage
from davdrive.check import run_check
from davdrive.policy import SYSTEM
from davdrive.settings import Settings, load_settings
from davdrive.trash_purge import purge_trash
from tests.conftest import LiveServer, basic

pytestmark = pytest.mark.live

UPLOADERS = 8
ROUNDS = 30
CONTENT = os.urandom(256 * 1024)  # one content for every upload, stored as a file
AUTH = {"Authorization": basic("tester", "secret")}


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    """Every upload as a blob file (the race is about files placed before the commit);
    the uploaders share 127.0.0.1, so the cap per source address is lifted."""
    return load_settings(None, {}, {
        "data_dir": str(tmp_path / "data"), "server.port": 0,
        "storage.inline_blob_bytes": 0, "server.max_connections_per_ip": 4 * UPLOADERS,
    })


def uploader(
    live: LiveServer, number: int, rounds: threading.Barrier, failures: list[str]
) -> None:
    """Each round (all uploaders together): PUT the content under a new name, read it
    back, delete it (all but the last round's). Between rounds nothing but the trash
    uses the content, so the collection may remove it while the next PUTs are in
    flight: the race."""
    conn = http.client.HTTPConnection("127.0.0.1", live.port, timeout=60)
    try:
        for i in range(ROUNDS):
            rounds.wait(timeout=60)
            path = f"/dav/u{number}-{i}.bin"
            conn.request("PUT", path, body=CONTENT, headers=AUTH)
            put = conn.getresponse()
            put.read()
            if put.status != 201:
                failures.append(f"PUT {path}: {put.status}")
                continue
            conn.request("GET", path, headers=AUTH)
            got = conn.getresponse()
            body = got.read()
            if got.status != 200 or body != CONTENT:
                failures.append(f"GET {path} after its 201: {got.status}, {len(body)} bytes")
            if i < ROUNDS - 1:
                conn.request("DELETE", path, headers=AUTH)
                deleted = conn.getresponse()
                deleted.read()
                if deleted.status != 204:
                    failures.append(f"DELETE {path}: {deleted.status}")
    finally:
        conn.close()


def test_collection_racing_uploads_of_the_same_content_never_loses_a_blob(
    live: LiveServer,
) -> None:
    runtime = live.app.runtime
    failures: list[str] = []
    removed = 0
    done = threading.Event()

    def collector() -> None:
        try:
            collect_until(done)
        except Exception as exc:  # reported below, with the uploads' failures
            failures.append(f"collection failed: {exc!r}")

    def collect_until(done: threading.Event) -> None:
        nonlocal removed
        while not done.is_set():
            with runtime.sessions() as session:  # purge everything deleted, at once
                purged = purge_trash(session, runtime.blobs, SYSTEM, older_than_days=0,
                                     min_age=0)
                session.commit()
            with runtime.sessions() as session:
                collected = collect_garbage(session, runtime.blobs, min_age=0)
                session.commit()
            removed += purged.collected.blobs + collected.blobs

    gc_thread = threading.Thread(target=collector)
    gc_thread.start()
    rounds = threading.Barrier(UPLOADERS)
    threads = [threading.Thread(target=uploader, args=(live, n, rounds, failures))
               for n in range(UPLOADERS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=300)
    done.set()
    gc_thread.join(timeout=60)

    assert failures == []
    assert removed > 0, "the collection never removed the shared blob: no race was run"
    sha256 = hashlib.sha256(CONTENT).hexdigest()
    assert runtime.blobs.verify(sha256)  # the files kept (one per uploader) still use it
    with runtime.sessions() as session:
        report = run_check(session, runtime.blobs)
    bad = [p.line() for p in report.problems if p.kind in ("blob_missing", "blob_corrupt")]
    assert bad == [], bad
    assert report.ok, [p.line() for p in report.problems]
