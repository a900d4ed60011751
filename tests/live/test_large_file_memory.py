"""A 1 GiB upload and download keep the server's memory flat (issue 12, large files).

Rule (docs/large-files-and-workers.md): through the real server (``davdrive
serve`` in its own process, so the RSS measured is the server's), a PUT of
1 GiB and its GET, after a warm-up of the same requests with 8 MiB, add less
than 40 MB to the server's RSS; the GET returns the same sha256.
"""

from __future__ import annotations

import hashlib
import http.client
import os
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from tests.conftest import basic
from tests.live.test_serve_cli import run_cli, start_server, stop

pytestmark = pytest.mark.live

MiB = 1 << 20
MAX_GROWTH_KB = 40 * 1024
AUTH = basic("dora", "dora-secret-1")


def _rss_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError("no VmRSS")


def _body(size: int, digest: hashlib._Hash) -> Iterator[bytes]:
    block = os.urandom(MiB)
    for i in range(size // MiB):
        piece = i.to_bytes(8, "big") + block[8:]
        digest.update(piece)
        yield piece


def _put_get(host: str, port: int, path: str, size: int) -> None:
    sent = hashlib.sha256()
    conn = http.client.HTTPConnection(host, port, timeout=120)
    conn.request("PUT", path, body=_body(size, sent),
                 headers={"Authorization": AUTH, "Content-Length": str(size)})
    answer = conn.getresponse()
    answer.read()
    assert answer.status == 201
    conn.request("GET", path, headers={"Authorization": AUTH})
    answer = conn.getresponse()
    assert answer.status == 200
    got = hashlib.sha256()
    buffer = bytearray(MiB)
    total = 0
    while n := answer.readinto(buffer):
        got.update(memoryview(buffer)[:n])
        total += n
    assert total == size and got.hexdigest() == sent.hexdigest()
    conn.close()


def test_one_gib_upload_and_download_keep_the_server_rss_flat(tmp_path: Path) -> None:
    """PUT + GET /dav/big.bin of 1 GiB: server RSS grows by less than 40 MB."""
    data = tmp_path / "data"
    assert run_cli(data, "init").returncode == 0
    assert run_cli(data, "category", "add", "staff", "--documents", "write").returncode == 0
    assert run_cli(data, "user", "add", "dora", "--category", "staff", "--password-stdin",
                   stdin="dora-secret-1\n").returncode == 0
    assert run_cli(data, "folder", "rights", "/", "staff=write").returncode == 0
    server, url = start_server(data)
    try:
        parts = urlsplit(url)
        host, port = parts.hostname or "127.0.0.1", parts.port or 80
        _put_get(host, port, parts.path + "warm.bin", 8 * MiB)
        before = _rss_kb(server.pid)
        _put_get(host, port, parts.path + "big.bin", 1024 * MiB)
        growth = _rss_kb(server.pid) - before
        assert growth < MAX_GROWTH_KB, f"RSS grew by {growth} kB"
    finally:
        stop(server)
