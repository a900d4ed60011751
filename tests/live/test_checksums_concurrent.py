"""Concurrent asks for the ownCloud checksums of one content (issue 12,
docs/durable-writes.md): computed on demand by several requests at once, each
answer is right and storing them never fails (the row keeps the first value)."""

from __future__ import annotations

import hashlib
import os
import threading

import pytest
import requests

from davdrive.server import DriveApp
from tests.conftest import LiveServer, basic
from tests.http.test_checksums_on_demand import CHECKSUMS, _expected, _row

pytestmark = pytest.mark.live

AUTH_TESTER = {"Authorization": basic("tester", "secret")}


def test_concurrent_asks_all_answer_right(app: DriveApp, live: LiveServer) -> None:
    """8 clients PROPFIND oc:checksums of a fresh 3 MiB upload at once: every answer is
    a 207 with hashlib's checksums, and the row holds them afterwards."""
    data = os.urandom(3 * 1024 * 1024)
    url = f"{live.url}/dav/big.bin"
    assert requests.put(url, data=data, headers=AUTH_TESTER, timeout=60).status_code == 201
    answers: list[tuple[int, str]] = []
    start = threading.Barrier(8)

    def ask() -> None:
        start.wait()
        r = requests.request("PROPFIND", url, data=CHECKSUMS, timeout=60,
                             headers={**AUTH_TESTER, "Depth": "0"})
        answers.append((r.status_code, r.text))

    threads = [threading.Thread(target=ask) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(answers) == 8
    for status, text in answers:
        assert status == 207 and _expected(data) in text
    assert _row(app, data) == (hashlib.sha1(data, usedforsecurity=False).hexdigest(),
                               hashlib.md5(data, usedforsecurity=False).hexdigest())
