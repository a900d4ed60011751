"""Several processes on one drive (PostgreSQL + S3), when one dies, and with workers.

Rules (docs/several-machines.md):

- a process killed (SIGKILL) in the middle of large uploads, one overwriting a
  file and one creating a new one, leaves through another process the old
  content byte for byte, no new name in the folder and no new content in the
  bucket; what it left (an unfinished multipart upload) is collected by
  `davdrive check --repair`;
- `davdrive serve --workers 2` on PostgreSQL and S3 serves requests from several
  connections at once, and no two of its processes share a connection they use
  to the database or to the bucket: each worker opens its own after the fork;
  the parent keeps only the serve guard's idle connection (the advisory lock
  that keeps storage moves away), which the workers inherit and never use.
"""

from __future__ import annotations

import os
import re
import socket
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from urllib.parse import urlsplit

import psycopg
import pytest
import requests

from davdrive.passwords import Passwords
from davdrive.runtime import Runtime
from tests.conftest import add_user, basic
from tests.live.test_two_processes import listing
from tests.live.test_workers import _children, _wait_for
from tests.live.two_hosts import Host, Shared, content_keys
from tests.s3 import bucket_keys, multipart_uploads

pytestmark = pytest.mark.live

MiB = 1024 * 1024
MEMBER, MEMBER_PW = "member", "member-pass-1"
AUTH = {"Authorization": basic(MEMBER, MEMBER_PW)}


@pytest.fixture
def drive(
    request: pytest.FixtureRequest, postgresql_url: str, moto_endpoint: str, s3_bucket: str,
    tmp_path: Path,
) -> Iterator[tuple[Shared, Runtime]]:
    """A fresh database and bucket with the user member (write on the root); the hosts
    started on it are stopped after the test."""
    shared = Shared(postgresql_url, moto_endpoint, s3_bucket, tmp_path)
    runtime = shared.runtime(Passwords(time_cost=1, memory_cost=8, parallelism=1))
    try:
        add_user(runtime, MEMBER, MEMBER_PW, category="staff")
        yield shared, runtime
    finally:
        shared.stop_all()
        runtime.close()


def open_upload(host: Host, path: str, announced: int) -> socket.socket:
    """A PUT of ``announced`` bytes on a raw connection, its head sent, no body yet."""
    sock = socket.create_connection(("127.0.0.1", host.port), timeout=10)
    sock.sendall((f"PUT {urlsplit(host.url).path}{path} HTTP/1.1\r\n"
                  f"Host: 127.0.0.1:{host.port}\r\nAuthorization: {AUTH['Authorization']}\r\n"
                  f"Content-Length: {announced}\r\n\r\n").encode())
    return sock


def test_a_process_killed_mid_upload_leaves_the_old_content_and_collectable_leftovers(
    drive: tuple[Shared, Runtime],
) -> None:
    shared, runtime = drive
    store = shared.store(runtime)
    b, c = shared.start("b", "c")  # c dies
    old = os.urandom(300_000)
    assert requests.request("MKCOL", b.url + "docs/", headers=AUTH, timeout=30).status_code == 201
    assert requests.put(b.url + "docs/report.bin", data=old, headers=AUTH,
                        timeout=30).status_code == 201
    names = listing(b, "docs/", (MEMBER, MEMBER_PW))
    contents = content_keys(store, bucket_keys(store))
    assert names == ["report.bin"] and len(contents) == 1

    # Through c: 64 MiB announced for report.bin (an overwrite) and for new.bin (a
    # creation), sent slowly; c is killed once several MiB of each went up.
    uploads = [open_upload(c, "docs/report.bin", 64 * MiB),
               open_upload(c, "docs/new.bin", 64 * MiB)]
    block = os.urandom(MiB)
    for _ in range(12):
        for sock in uploads:
            sock.sendall(block)
        time.sleep(0.02)
    deadline = time.monotonic() + 15
    while len(multipart_uploads(store)) < 2 and time.monotonic() < deadline:
        time.sleep(0.1)
    assert len(multipart_uploads(store)) == 2, "both uploads had begun sending parts"
    c.kill()
    for sock in uploads:
        sock.close()

    got = requests.get(b.url + "docs/report.bin", headers=AUTH, timeout=30)
    assert got.status_code == 200 and got.content == old
    assert requests.get(b.url + "docs/new.bin", headers=AUTH, timeout=30).status_code == 404
    assert listing(b, "docs/", (MEMBER, MEMBER_PW)) == names
    keys = bucket_keys(store)
    assert content_keys(store, keys) == contents, "nothing new under the content keys"
    left = multipart_uploads(store)
    assert len(left) == 2 and all(k.startswith(store.keys.temp_prefix) for k in left)

    # Collection: the server's own clean-up leaves uploads younger than an hour
    # (another host's may be in flight); an operator's check --repair with a
    # shorter age removes them.
    repaired = shared.cli("tools", "check", "--repair", "--temp-age", "0")
    assert repaired.returncode == 0, repaired.stdout + repaired.stderr
    assert repaired.stdout.count("stale_temp") == 2, repaired.stdout
    assert multipart_uploads(store) == []
    assert bucket_keys(store) == contents
    assert requests.get(b.url + "docs/report.bin", headers=AUTH, timeout=30).content == old
    checked = shared.cli("tools", "check")
    assert checked.returncode == 0, checked.stdout + checked.stderr


def _sockets_to(pid: int, ports: set[int]) -> dict[int, int]:
    """The TCP sockets process ``pid`` holds that are connected to ``ports`` on
    loopback, as {inode: local port} (from /proc: a descriptor inherited across a
    fork is the same inode)."""
    inodes = set()
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            target = os.readlink(f"/proc/{pid}/fd/{fd}")
        except OSError:
            continue
        found = re.fullmatch(r"socket:\[(\d+)\]", target)
        if found:
            inodes.add(int(found.group(1)))
    connected = {}
    for table in ("tcp", "tcp6"):
        for line in Path(f"/proc/{pid}/net/{table}").read_text().splitlines()[1:]:
            fields = line.split()
            remote_port = int(fields[2].rsplit(":", 1)[1], 16)
            if remote_port in ports and fields[3] == "01":  # ESTABLISHED
                connected[int(fields[9])] = int(fields[1].rsplit(":", 1)[1], 16)
    return {inode: port for inode, port in connected.items() if inode in inodes}


def _database_sessions(url: str) -> dict[int, str]:
    """{client port: application name} of the sessions open on ``url``'s database."""
    parts = urlsplit(url)
    with psycopg.connect(host=parts.hostname, port=parts.port, user=parts.username,
                         dbname=parts.path.lstrip("/")) as conn:
        rows = conn.execute("SELECT client_port, application_name FROM pg_stat_activity "
                            "WHERE datname = current_database() AND client_port > 0")
        return {int(port): str(name) for port, name in rows}


def test_serve_with_two_workers_on_postgresql_and_s3_shares_no_connection(
    drive: tuple[Shared, Runtime],
) -> None:
    shared, _ = drive
    host = shared.launch("w", "--workers", "2")
    host.wait_for_url()
    parent = host.process.pid
    assert _wait_for(lambda: len(_children(parent)) == 2), _children(parent)
    bodies = {i: os.urandom(6 * MiB if i == 0 else 100_000 + i) for i in range(8)}

    def client(i: int) -> tuple[int, int, bool]:
        with requests.Session() as session:  # a connection of its own
            put = session.put(f"{host.url}w{i}.bin", data=bodies[i], headers=AUTH, timeout=60)
            got = session.get(f"{host.url}w{i}.bin", headers=AUTH, timeout=60)
            return put.status_code, got.status_code, got.content == bodies[i]

    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(client, range(8)))
    assert results == [(201, 200, True)] * 8
    workers = _children(parent)
    assert len(workers) == 2, "no worker ended"
    ports = {urlsplit(shared.database_url).port or 5432, urlsplit(shared.endpoint).port or 80}
    held = {pid: _sockets_to(pid, ports) for pid in (parent, *workers)}
    # The parent keeps one connection: the serve guard's, idle, holding the shared
    # advisory lock that keeps storage moves away while it lives (davdrive.serve_guard).
    # Its workers inherit it and never use it; every other connection is one worker's.
    sessions = _database_sessions(shared.database_url)
    assert len(held[parent]) == 1, held
    (guard, guard_port), = held[parent].items()
    assert sessions[guard_port] == f"davdrive serve pid {parent} on {socket.gethostname()}"
    own = {pid: set(held[pid]) - {guard} for pid in workers}
    assert own[workers[0]] and own[workers[1]], held
    assert own[workers[0]].isdisjoint(own[workers[1]]), held
    assert not any("serve pid" in sessions.get(held[pid][inode], "")
                   for pid in workers for inode in own[pid]), "workers hold no guard of their own"
    listed = requests.request("PROPFIND", host.url, headers={**AUTH, "Depth": "1"}, timeout=30)
    assert listed.status_code == 207 and all(f"w{i}.bin" in listed.text for i in range(8))
