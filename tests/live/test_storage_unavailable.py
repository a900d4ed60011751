"""A drive whose object store or database cannot be reached answers 503, not 500.

Rules (docs/s3-storage.md, "When the storage is down"): while the S3 endpoint
refuses connections, a GET of a file kept in the bucket and a PUT answer
``503 Service Unavailable`` with ``Retry-After`` and a sentence, never a stack
trace; so does a download from the web drive; PROPFIND (metadata only)
still answers; the refused PUT changed
nothing, so once the store is back the old content is served. A body the
bucket stored damaged is refused the same way (503), and the old content stays.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Iterator

import pytest
import requests

from davdrive.blob_s3_client import make_client
from tests.conftest import LiveServer
from tests.live.test_s3_live import AUTH, get, put, s3_live, s3_runtime, store_of  # noqa: F401
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
