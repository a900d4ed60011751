"""PROPFIND Depth 1 of a folder of 50,000 entries: the server's memory stays flat.

Finding 4 of issue 9: "PROPFIND Depth 1 of 50,000 entries added 400 MB RSS,
8 in parallel reached 3.6 GB". Rule: a member's PROPFIND Depth 1 of such a
folder, read to the end, adds less than 50 MB to the RSS of the real server
(``davdrive serve`` in its own process, so the RSS measured is the server's),
and lists all 50,000 + 1 responses, sent chunked on a connection that stays
open for the next request.
"""

from __future__ import annotations

import http.client
import threading
import time
from pathlib import Path
from urllib.parse import urlsplit

from sqlalchemy import insert

from davdrive import tree
from davdrive.models import Blob, DeadProperty, Node
from davdrive.passwords import Passwords
from davdrive.runtime import open_runtime
from davdrive.settings import load_settings
from tests.conftest import add_user, basic
from tests.live.test_serve_cli import run_cli, start_server, stop

ENTRIES = 50_000
MAX_GROWTH_KB = 50 * 1024
ALLPROP = b'<?xml version="1.0"?><D:propfind xmlns:D="DAV:"><D:allprop/></D:propfind>'


def build_drive(data: Path) -> None:
    """A member and /big with 50,000 files (bulk SQL inserts), every 100th with a
    dead property; /small with 3 files for the warm-up."""
    assert run_cli(data, "init").returncode == 0
    settings = load_settings(None, {}, {"data_dir": str(data)})
    runtime = open_runtime(settings, Passwords(time_cost=1, memory_cost=8, parallelism=1))
    try:
        add_user(runtime, "member", "member-pw", documents="read", category="member")
        blob = runtime.blobs.put_bytes(b"hello")
        with runtime.sessions() as session:
            session.add(Blob(sha256=blob.sha256, sha1=blob.sha1, md5=blob.md5, size=blob.size))
            root = tree.get_root(session)
            folders = {}
            for name in ("big", "small"):
                folders[name] = Node(parent_id=root.id, name=name, name_key=name,
                                     kind="folder", mtime=0)
                session.add(folders[name])
            session.flush()

            def files(parent: Node, count: int) -> list[dict[str, object]]:
                return [
                    {"parent_id": parent.id, "name": f"file-{i:05d}.txt",
                     "name_key": f"file-{i:05d}.txt", "kind": "file",
                     "blob_sha256": blob.sha256, "size": 5, "content_type": "text/plain",
                     "mtime": 1_700_000_000.0 + i}
                    for i in range(count)
                ]

            session.execute(insert(Node), files(folders["big"], ENTRIES))
            session.execute(insert(Node), files(folders["small"], 3))
            ids = session.scalars(
                Node.__table__.select().with_only_columns(Node.id)
                .where(Node.parent_id == folders["big"].id).order_by(Node.id)
            ).all()
            session.execute(insert(DeadProperty), [
                {"node_id": i, "name": "{urn:x}tag", "value": '<x:tag xmlns:x="urn:x">v</x:tag>'}
                for i in ids[::100]
            ])
            session.commit()
    finally:
        runtime.close()


def status_kb(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise AssertionError(f"{field} missing from /proc/{pid}/status")


def reset_peak(pid: int) -> bool:
    """Reset VmHWM to the current RSS (Linux >= 4.0); False if not permitted."""
    try:
        Path(f"/proc/{pid}/clear_refs").write_text("5")
    except OSError:
        return False
    return True


class RssSampler(threading.Thread):
    """Highest VmRSS seen while running (for systems where VmHWM cannot be reset)."""

    def __init__(self, pid: int) -> None:
        super().__init__(daemon=True)
        self.pid = pid
        self.peak = 0
        self.done = threading.Event()

    def run(self) -> None:
        while not self.done.is_set():
            self.peak = max(self.peak, status_kb(self.pid, "VmRSS"))
            time.sleep(0.01)


def propfind(conn: http.client.HTTPConnection, path: str, depth: str) -> tuple[int, int, dict]:
    """(status, responses counted, headers), reading the body in pieces."""
    conn.request("PROPFIND", path, body=ALLPROP, headers={
        "Depth": depth, "Authorization": basic("member", "member-pw"),
        "Content-Type": "application/xml",
    })
    response = conn.getresponse()
    count, tail = 0, b""
    while chunk := response.read(64 * 1024):
        data = tail + chunk
        count += data.count(b"<D:response")
        tail = data[-16:]
        count -= tail.count(b"<D:response")
    return response.status, count, dict(response.getheaders())


def test_member_propfind_of_50000_entries_adds_less_than_50_mb(tmp_path: Path) -> None:
    """Finding 4: PROPFIND Depth 1 of 50,000 entries, as a member: < 50 MB RSS growth."""
    data = tmp_path / "data"
    build_drive(data)
    server, url = start_server(data)
    try:
        pid = server.pid
        parts = urlsplit(url)
        conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=120)
        # Warm-up: sign-in (argon2), caches, a small streamed listing.
        assert propfind(conn, "/dav/small/", "1")[:2] == (207, 4)
        assert propfind(conn, "/dav/big/", "0")[:2] == (207, 1)
        baseline = status_kb(pid, "VmRSS")
        hwm_reset = reset_peak(pid)
        sampler = RssSampler(pid)
        sampler.start()
        started = time.monotonic()
        status, count, headers = propfind(conn, "/dav/big/", "1")
        elapsed = time.monotonic() - started
        sampler.done.set()
        sampler.join()
        peak = max(sampler.peak, status_kb(pid, "VmHWM") if hwm_reset else 0)
        assert status == 207
        assert count == ENTRIES + 1, f"{count} responses"
        growth = peak - baseline
        print(f"PROPFIND Depth 1 of {ENTRIES}: {elapsed:.1f} s, RSS {baseline} kB -> peak "
              f"{peak} kB (+{growth / 1024:.1f} MB, VmHWM reset: {hwm_reset})")
        assert growth < MAX_GROWTH_KB, f"RSS grew by {growth / 1024:.1f} MB"
        assert headers.get("Transfer-Encoding") == "chunked", headers
        assert "Content-Length" not in headers
        # The connection stays usable: the stream did not force "Connection: close".
        assert propfind(conn, "/dav/small/", "1")[:2] == (207, 4)
        conn.close()
    finally:
        stop(server)
