"""File answers through ``wsgi.file_wrapper`` and ``sendfile`` (issue 12, large files).

Rules (docs/large-files-and-workers.md):
- a GET returns exactly the stored bytes (sha256) and their length, whatever the
  size: 0, 1, 1 MiB - 1, 1 MiB + 1, 20 MiB, sent in blocks (default) or with
  sendfile (``server.sendfile``); HEAD gives the same headers, no body;
- WsgiDAV's GET of a file reaches the server as a ``FileBody`` (a file region it
  may sendfile), holding no database connection;
- Range still answers 206 with exactly the asked bytes;
- a client that goes away mid-file leaves no descriptor of the file open and no
  database connection checked out, and the server keeps serving;
- over TLS the same bytes arrive (blocks, no sendfile).
"""

from __future__ import annotations

import hashlib
import os
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from werkzeug.test import EnvironBuilder

from davdrive.runtime import open_runtime
from davdrive.server import DriveApp, create_app
from davdrive.settings import load_settings
from provider.file_body import FileBody
from tests.conftest import LiveServer, add_user, basic, require_tool, serving
from tests.live.wire import read_head

pytestmark = pytest.mark.live

AUTH = {"Authorization": basic("tester", "secret")}
MiB = 1 << 20
SIZES = [0, 1, MiB - 1, MiB + 1, 20 * MiB]


def _content(size: int) -> bytes:
    """Bytes that differ from block to block (a misplaced block changes the digest)."""
    return (os.urandom(4096) * (size // 4096 + 1))[:size]


def _put(url: str, data: bytes, **kwargs: object) -> None:
    answer = requests.put(url, data=data, headers=AUTH, timeout=60, **kwargs)  # type: ignore[arg-type]
    assert answer.status_code in (201, 204), answer.text


def _blob_fds(data_dir: Path) -> list[str]:
    """Descriptors of this process open on files of the blob store."""
    blobs = str((data_dir / "blobs").resolve())
    found = []
    for fd in os.listdir("/proc/self/fd"):
        try:
            target = os.readlink(f"/proc/self/fd/{fd}")
        except OSError:
            continue
        if target.startswith(blobs):
            found.append(target)
    return found


@pytest.fixture(params=[False, True], ids=["blocks", "sendfile"])
def file_server(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[LiveServer]:
    """The live server with ``server.sendfile`` off (1 MiB blocks) and on."""
    settings = load_settings(None, {}, {
        "data_dir": str(tmp_path / "data"), "server.port": 0,
        "server.sendfile": request.param,
    })
    runtime = open_runtime(settings)
    add_user(runtime, "tester", "secret", documents="write")
    app = create_app(settings, runtime)
    try:
        with serving(app) as live:
            yield live
    finally:
        app.close()


@pytest.mark.parametrize("size", SIZES)
def test_get_returns_the_stored_bytes_for_every_size(
    file_server: LiveServer, size: int
) -> None:
    """PUT then GET /dav/f-SIZE.bin: same sha256, Content-Length = size."""
    live = file_server
    data = _content(size)
    url = f"{live.url}/dav/f-{size}.bin"
    _put(url, data)
    answer = requests.get(url, headers=AUTH, timeout=60)
    assert answer.status_code == 200
    assert answer.headers["Content-Length"] == str(size)
    assert hashlib.sha256(answer.content).hexdigest() == hashlib.sha256(data).hexdigest()


def test_head_sends_the_get_headers_and_no_body(live: LiveServer) -> None:
    """HEAD /dav/big.bin (3 MiB), then GET on the same connection: the HEAD's
    Content-Length is the size, and the next bytes on the wire are the GET's
    status line (no body followed the HEAD)."""
    data = _content(3 * MiB)
    _put(f"{live.url}/dav/big.bin", data)
    with socket.create_connection(("127.0.0.1", live.port), timeout=10) as sock:
        auth = AUTH["Authorization"]
        sock.sendall(f"HEAD /dav/big.bin HTTP/1.1\r\nHost: x\r\nAuthorization: {auth}\r\n\r\n"
                     .encode())
        head = read_head(sock)
        assert head.startswith(b"HTTP/1.1 200 ")
        assert f"Content-Length: {len(data)}\r\n".encode() in head
        assert head.endswith(b"\r\n\r\n"), "bytes after the HEAD answer's head"
        sock.sendall(f"GET /dav/big.bin HTTP/1.1\r\nHost: x\r\nAuthorization: {auth}\r\n"
                     "Range: bytes=0-9\r\n\r\n".encode())
        again = read_head(sock)
        assert again.startswith(b"HTTP/1.1 206 "), again[:80]


def test_wsgidav_get_of_a_file_reaches_the_server_as_a_file_region(
    app: DriveApp, live: LiveServer
) -> None:
    """GET /dav/big.bin (3 MiB) called on the WSGI app as the server calls it: the
    answer is a FileBody (first block already read, the rest a region of the file)
    whose bytes are the file's, and no connection is checked out before the send."""
    data = _content(3 * MiB)
    _put(f"{live.url}/dav/big.bin", data)
    env = EnvironBuilder(path="/dav/big.bin", headers=AUTH).get_environ()
    env["wsgi.file_wrapper"] = FileBody
    started: list[str] = []
    body = app(env, lambda status, headers, exc_info=None: started.append(status))
    try:
        assert isinstance(body, FileBody), type(body)
        assert started == ["200 OK"]
        assert body.remaining() == len(data)
        body.prepare()
        assert app.runtime.engine.pool.checkedout() == 0  # type: ignore[attr-defined]
        assert b"".join(body) == data
    finally:
        body.close()  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("first", "last"), [(0, 9), (1000, 3 * MiB - 7), (5 * MiB + 3, 20 * MiB - 1)]
)
def test_range_answers_206_with_exactly_the_asked_bytes(
    file_server: LiveServer, first: int, last: int
) -> None:
    """GET /dav/r.bin with Range: bytes=FIRST-LAST (20 MiB file): 206, the slice."""
    live = file_server
    data = _content(20 * MiB)
    url = f"{live.url}/dav/r-{first}.bin"
    _put(url, data)
    answer = requests.get(url, headers={**AUTH, "Range": f"bytes={first}-{last}"}, timeout=60)
    assert answer.status_code == 206
    assert answer.headers["Content-Range"] == f"bytes {first}-{last}/{len(data)}"
    assert answer.content == data[first:last + 1]


def _abort_mid_file(port: int) -> None:
    """GET /dav/big.bin, read 256 KiB, then reset the connection."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=10)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 64 * 1024)
    sock.sendall(f"GET /dav/big.bin HTTP/1.1\r\nHost: x\r\nAuthorization: "
                 f"{AUTH['Authorization']}\r\n\r\n".encode())
    got = 0
    while got < 256 * 1024:
        chunk = sock.recv(65536)
        assert chunk, "the server closed before sending the file"
        got += len(chunk)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
    sock.close()


def test_client_abort_mid_file_closes_the_file_and_the_server_keeps_serving(
    file_server: LiveServer,
) -> None:
    """Five clients GET /dav/big.bin (20 MiB) and reset after 256 KiB: within a few
    seconds no descriptor on the blob store is open, no DB connection is checked
    out, and a full GET still returns the file."""
    live, app = file_server, file_server.app
    data = _content(20 * MiB)
    _put(f"{live.url}/dav/big.bin", data)
    data_dir = app.settings.data_dir
    for _ in range(5):
        _abort_mid_file(live.port)
    deadline = time.monotonic() + 15
    while (_blob_fds(data_dir) or app.runtime.engine.pool.checkedout()) \
            and time.monotonic() < deadline:  # type: ignore[attr-defined]
        time.sleep(0.1)
    assert _blob_fds(data_dir) == []
    assert app.runtime.engine.pool.checkedout() == 0  # type: ignore[attr-defined]
    answer = requests.get(f"{live.url}/dav/big.bin", headers=AUTH, timeout=60)
    assert answer.status_code == 200 and answer.content == data


@pytest.fixture
def tls_live(tmp_path: Path) -> Iterator[tuple[LiveServer, str]]:
    """The live server with a self-signed certificate, and that certificate."""
    openssl = require_tool("openssl")
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        [openssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
         "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
         "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True, timeout=60,
    )
    settings = load_settings(None, {}, {
        "data_dir": str(tmp_path / "data"), "server.port": 0,
        "server.tls_cert": str(cert), "server.tls_key": str(key),
    })
    runtime = open_runtime(settings)
    add_user(runtime, "tester", "secret", documents="write")
    app = create_app(settings, runtime)
    try:
        with serving(app) as live:
            yield LiveServer(live.url.replace("http://", "https://"), live.port, app), str(cert)
    finally:
        app.close()


def test_tls_get_and_range_return_the_stored_bytes(tls_live: tuple[LiveServer, str]) -> None:
    """Over TLS: GET /dav/t.bin (5 MiB + 1) gives the same sha256, Range gives the slice."""
    server, cert = tls_live
    data = _content(5 * MiB + 1)
    url = f"{server.url}/dav/t.bin"
    _put(url, data, verify=cert)
    answer = requests.get(url, headers=AUTH, timeout=60, verify=cert)
    assert answer.status_code == 200
    assert hashlib.sha256(answer.content).hexdigest() == hashlib.sha256(data).hexdigest()
    part = requests.get(url, headers={**AUTH, "Range": "bytes=100-2000000"}, timeout=60,
                        verify=cert)
    assert part.status_code == 206 and part.content == data[100:2000001]
