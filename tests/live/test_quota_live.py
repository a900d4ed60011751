"""Quotas over the real server: `rclone about`, chunked bodies and a full disk.

Issue 10: "`rclone about` show[s] no free space"; "an upload that would pass
a quota gets 507 and stores nothing". Rules checked: rclone (Debian's) reads
the RFC 4331 figures (used = own bytes, free = quota left); a chunked PUT,
whose length is known only at its end, past the quota answers 507 and leaves
no node, no blob and no temporary file; a PUT announcing more bytes than the
disk has free answers 507 before any body byte is read, and so does Finder's
chunked PUT whose X-Expected-Entity-Length passes the quota.
"""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from davdrive.settings import Settings, load_settings
from tests.conftest import LiveServer, basic
from tests.live.rclone import Rclone
from tests.live.wire import read_head

pytestmark = pytest.mark.live

QUOTA = 100_000
AUTH = {"Authorization": basic("tester", "secret")}


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    """tester (category docs-write) may own 100,000 bytes; uploads are not capped."""
    return load_settings(None, {}, {
        "data_dir": str(tmp_path / "data"), "server.port": 0,
        "storage.category_quotas": f"docs-write={QUOTA}",
        "dav.max_upload_bytes": 10**15,
    })


def stored_files(settings: Settings) -> set[Path]:
    return {p for p in settings.blob_dir.rglob("*") if p.is_file()}


def test_rclone_about_shows_used_and_free(live: LiveServer, tmp_path: Path) -> None:
    """`rclone about --json`: used = the 30,000 bytes stored, free = quota - used,
    total = quota (rclone adds the two)."""
    assert requests.put(live.url + "/dav/a.bin", data=b"x" * 30_000, headers=AUTH,
                        timeout=10).status_code == 201
    rclone = Rclone(live.url + "/dav/", "tester", "secret", "other", tmp_path / "rc")
    about = json.loads(rclone.ok("about", "--json", "drive:"))
    assert (about["used"], about["free"], about["total"]) == (30_000, 70_000, QUOTA)
    assert rclone.errors() == []


def test_chunked_put_past_quota_is_507_and_leaves_nothing(
    live: LiveServer, settings: Settings
) -> None:
    """PUT with Transfer-Encoding: chunked of 150,000 bytes: no length to check first,
    so the end of the body is checked; 507, nothing stored, no temp file."""
    before = stored_files(settings)

    def body() -> Iterator[bytes]:
        for _ in range(15):
            yield b"y" * 10_000

    response = requests.put(live.url + "/dav/big.bin", data=body(), headers=AUTH, timeout=30)
    assert response.status_code == 507, response.text
    assert "quota" in response.text
    assert requests.get(live.url + "/dav/big.bin", headers=AUTH, timeout=10).status_code == 404
    assert stored_files(settings) == before
    small = requests.put(live.url + "/dav/small.bin", data=iter([b"s" * 5000]), headers=AUTH,
                         timeout=10)
    assert small.status_code == 201


def test_put_announcing_more_than_the_free_disk_is_507_before_the_body(
    live: LiveServer, settings: Settings
) -> None:
    """Content-Length of 10^14 bytes (more than any test disk holds): 507 answered
    without sending a single body byte; nothing stored."""
    before = stored_files(settings)
    answer = head_answer(live.port, (
        f"PUT /dav/huge.bin HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        f"Authorization: {AUTH['Authorization']}\r\nContent-Length: {10**14}\r\n\r\n"
    ))
    assert answer.startswith(b"HTTP/1.1 507 "), answer
    assert stored_files(settings) == before


def head_answer(port: int, head: str) -> bytes:
    """Send a request head without its body; return the answer's head."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(head.encode())
        return read_head(sock)


def test_finder_chunked_put_announcing_past_the_quota_is_507_before_the_body(
    live: LiveServer, settings: Settings
) -> None:
    """Finder's PUT: Transfer-Encoding chunked with X-Expected-Entity-Length 150,000
    (quota 100,000): 507 without a single chunk sent; nothing stored."""
    before = stored_files(settings)
    answer = head_answer(live.port, (
        "PUT /dav/Movie.mov HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        f"Authorization: {AUTH['Authorization']}\r\nTransfer-Encoding: chunked\r\n"
        "X-Expected-Entity-Length: 150000\r\n\r\n"
    ))
    assert answer.startswith(b"HTTP/1.1 507 Insufficient Storage\r\n"), answer
    assert stored_files(settings) == before
