"""A drive whose object store or database cannot be reached answers 503, not 500.

Rules (docs/s3-storage.md, "When the storage is down"): while the S3 endpoint
refuses connections, a GET of a file kept in the bucket and a PUT answer
``503 Service Unavailable`` with ``Retry-After`` and a sentence, never a stack
trace; so does a download from the web drive; PROPFIND (metadata only)
still answers; the refused PUT changed
nothing, so once the store is back the old content is served. A body the
bucket stored damaged is refused the same way (503), and the old content stays.
While the PostgreSQL server is down, WebDAV and the web drive answer 503 too;
once it is back the same process serves again (its pool replaces the cut
connections) and nothing stored before is lost.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from davdrive import tree
from davdrive.blob_s3_client import make_client
from davdrive.passwords import Passwords
from davdrive.runtime import open_runtime
from davdrive.server import create_app
from davdrive.settings import load_settings
from tests.conftest import LiveServer, add_user, serving
from tests.live.test_s3_live import AUTH, get, put, s3_live, s3_runtime, store_of  # noqa: F401
from tests.postgres import PostgresServer, running_server
from tests.s3 import s3_settings
from tests.web_forms import signed_in

pytestmark = pytest.mark.live


@pytest.fixture
def closed_port() -> Iterator[int]:
    """A loopback port nothing listens on (bound, never listening: connections refused)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        yield int(sock.getsockname()[1])


def assert_unavailable(answer: requests.Response) -> None:
    assert answer.status_code == 503, answer.text
    assert int(answer.headers["Retry-After"]) > 0
    assert "storage" in answer.text and "Traceback" not in answer.text
    assert "botocore" not in answer.text.lower()


def test_an_unreachable_object_store_answers_503_and_changes_nothing(
    s3_live: LiveServer, closed_port: int  # noqa: F811
) -> None:
    store = store_of(s3_live)
    old = os.urandom(300_000)
    assert put(s3_live, "/dav/kept.bin", old).status_code == 201
    browser = signed_in(s3_live.url, "tester", "secret")
    working = store.client
    store.client = make_client(s3_settings(f"http://127.0.0.1:{closed_port}", store.bucket))
    try:
        assert_unavailable(get(s3_live, "/dav/kept.bin"))
        assert_unavailable(get(s3_live, "/dav/kept.bin", Range="bytes=0-99"))
        assert_unavailable(put(s3_live, "/dav/kept.bin", os.urandom(300_000)))
        assert_unavailable(put(s3_live, "/dav/new.bin", os.urandom(300_000)))
        listing = requests.request("PROPFIND", s3_live.url + "/dav/", timeout=30,
                                   headers={**AUTH, "Depth": "1"})
        assert listing.status_code == 207 and "kept.bin" in listing.text
        assert "new.bin" not in listing.text
        download = browser.get(s3_live.url + "/files/kept.bin", timeout=30)
        assert download.status_code == 503 and "storage" in download.text
        assert int(download.headers["Retry-After"]) > 0
        assert "Traceback" not in download.text
    finally:
        store.client = working
    assert get(s3_live, "/dav/kept.bin").content == old
    assert get(s3_live, "/dav/new.bin").status_code == 404


@pytest.fixture
def own_postgres() -> Iterator[PostgresServer]:
    """A PostgreSQL server of this test's own (it is stopped and started again)."""
    with running_server() as server:
        server.admin('CREATE DATABASE "drive"')
        yield server


def test_a_database_outage_answers_503_and_the_drive_comes_back_with_it(
    tmp_path: Path, own_postgres: PostgresServer, fast_passwords: Passwords
) -> None:
    """While PostgreSQL is down (a restart, a failover), WebDAV and the web drive
    answer 503 with Retry-After, not 500; once it is back, the next requests are
    served again by the same process, and what was stored before is intact."""
    settings = load_settings(None, {}, {"data_dir": str(tmp_path / "data"), "server.port": 0,
                                        "database.url": own_postgres.url("drive")})
    runtime = open_runtime(settings, fast_passwords)
    with runtime.sessions() as session:
        tree.get_root(session)
        session.commit()
    add_user(runtime, "tester", "secret", documents="write")
    try:
        with serving(create_app(settings, runtime)) as live:
            assert put(live, "/dav/kept.txt", b"stored before").status_code == 201
            browser = signed_in(live.url, "tester", "secret")
            own_postgres.pause()
            try:
                for answer in (get(live, "/dav/kept.txt"),
                               put(live, "/dav/kept.txt", b"during the outage"),
                               requests.request("PROPFIND", live.url + "/dav/", timeout=30,
                                                headers={**AUTH, "Depth": "1"}),
                               browser.get(live.url + "/files/", timeout=30)):
                    assert answer.status_code == 503, answer.text
                    assert int(answer.headers["Retry-After"]) > 0
                    assert "database" in answer.text and "Traceback" not in answer.text
            finally:
                own_postgres.resume()
            assert get(live, "/dav/kept.txt").content == b"stored before"
            assert put(live, "/dav/kept.txt", b"after").status_code == 204
            assert get(live, "/dav/kept.txt").content == b"after"
            assert browser.get(live.url + "/files/", timeout=30).status_code == 200
    finally:
        runtime.close()
