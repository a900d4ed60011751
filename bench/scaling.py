#!/usr/bin/env python3
"""Scaling check: a request costs the same on a drive of 1,000 and of 100,000 nodes.

Builds two drives in temporary folders (bulk SQL inserts: folders of 100 files
whose names repeat from folder to folder, as minutes and receipts do), serves
both with the real ``davdrive serve`` at once, and times, interleaved between
the two servers: GET of a 1 KiB file three folders deep, PROPFIND Depth 1 of a
folder of 100 entries, and PUT of new unique content (each 201 durable). It
prints the medians and the large/small ratio of each; the performance issue
asks for at most 1.3.

    python bench/scaling.py [--rounds 200] [--large 100000]

Exit status 1 when a ratio is over the bound. Loopback only.
"""

from __future__ import annotations

import argparse
import base64
import http.client
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from functools import partial
from pathlib import Path

from hidden_missing import interleaved_medians, serve
from servers import davdrive

BOUND = 1.3
PASSWORD = "bench-password-2"  # noqa: S105  (a throwaway drive)
PROPFIND = (
    b'<?xml version="1.0"?><D:propfind xmlns:D="DAV:"><D:prop><D:resourcetype/>'
    b"<D:getcontentlength/><D:getlastmodified/><D:getetag/></D:prop></D:propfind>"
)
PER_FOLDER = 100


def build(data: Path, nodes: int) -> None:
    """/Archive/<year>/<folder>/file-NN.txt, ``nodes`` nodes in all, one shared blob."""
    from sqlalchemy import create_engine, insert, select

    from davdrive.blobs import BlobStore
    from davdrive.models import Blob, Node

    davdrive(data, "init")
    davdrive(data, "user", "add", "writer1", "--category", "office",
             "--password-stdin", stdin=PASSWORD + "\n")
    davdrive(data, "folder", "add", "/Archive")
    davdrive(data, "folder", "add", "/Inbox")
    info = BlobStore(data / "blobs").put_bytes(b"x" * 1024)
    engine = create_engine(f"sqlite:///{data / 'davdrive.sqlite3'}")
    now = time.time()
    with engine.begin() as conn:
        conn.execute(insert(Blob), [{"sha256": info.sha256, "sha1": info.sha1,
                                     "md5": info.md5, "size": info.size}])
        archive = conn.execute(select(Node.id).where(Node.name == "Archive")).scalar_one()
        folders = max(1, nodes // (PER_FOLDER + 1))
        years = max(1, folders // 50)
        year_ids = []
        for y in range(years):
            year_ids.append(conn.execute(insert(Node).values(
                parent_id=archive, name=f"{2000 + y}", name_key=f"{2000 + y}",
                kind="folder", size=0, mtime=now)).inserted_primary_key[0])
        for f in range(folders):
            parent = year_ids[f % years]
            folder_id = conn.execute(insert(Node).values(
                parent_id=parent, name=f"box-{f}", name_key=f"box-{f}", kind="folder",
                size=0, mtime=now)).inserted_primary_key[0]
            conn.execute(insert(Node), [
                {"parent_id": folder_id, "name": f"file-{i:02d}.txt",
                 "name_key": f"file-{i:02d}.txt", "kind": "file", "size": info.size,
                 "blob_sha256": info.sha256, "content_type": "text/plain", "mtime": now}
                for i in range(PER_FOLDER)
            ])
    engine.dispose()


def request(conn: http.client.HTTPConnection, method: str, path: str, auth: str,
            body: bytes | None = None, depth: str | None = None) -> float:
    headers = {"Authorization": auth}
    if depth is not None:
        headers["Depth"] = depth
    start = time.perf_counter()
    conn.request(method, path, body=body, headers=headers)
    response = conn.getresponse()
    response.read()
    elapsed = time.perf_counter() - start
    if response.status >= 300:
        raise SystemExit(f"{method} {path} answered {response.status}")
    return elapsed


def measure(rounds: int, small: int, large: int,
            say: Callable[[str], None] = lambda m: print(m, file=sys.stderr)
            ) -> list[tuple[str, float, float]]:
    """(request, median seconds on ``small`` nodes, on ``large`` nodes) per request kind."""
    auth = "Basic " + base64.b64encode(f"writer1:{PASSWORD}".encode()).decode()
    folder = "/dav/Archive/2000/box-0/"
    workloads = {
        "GET 1 KiB": lambda c: request(c, "GET", folder + "file-07.txt", auth),
        "PROPFIND Depth 1 (100 entries)": lambda c: request(
            c, "PROPFIND", folder, auth, PROPFIND, depth="1"),
        "PUT 1 KiB, unique": lambda c: request(
            c, "PUT", f"/dav/Inbox/{uuid.uuid4().hex}.txt", auth, uuid.uuid4().bytes * 64),
    }
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        servers = {}
        try:
            for label, size in (("small", small), ("large", large)):
                say(f"building a drive of {size} nodes ...")
                data = Path(tmp) / label
                build(data, size)
                proc, port = serve(data)
                servers[label] = (proc, http.client.HTTPConnection("127.0.0.1", port, timeout=60))
            for name, run in workloads.items():
                small_s, large_s = interleaved_medians(
                    partial(run, servers["small"][1]),
                    partial(run, servers["large"][1]),
                    rounds, warmup=10,
                )
                rows.append((name, small_s, large_s))
        finally:
            for proc, _ in servers.values():
                proc.terminate()
                proc.wait(timeout=10)
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=200)
    parser.add_argument("--small", type=int, default=1_000)
    parser.add_argument("--large", type=int, default=100_000)
    args = parser.parse_args()
    rows = measure(args.rounds, args.small, args.large)
    print(f"| request | {args.small} nodes, median ms | {args.large} nodes, median ms | ratio |")
    print("|---|---|---|---|")
    for name, small, large in rows:
        print(f"| {name} | {small * 1000:.2f} | {large * 1000:.2f} | {large / small:.2f} |")
    worst = max(large / small for _, small, large in rows)
    verdict = "within" if worst <= BOUND else "OVER"
    print(f"\nworst large/small ratio: {worst:.2f}, {verdict} the bound {BOUND}")
    return 0 if worst <= BOUND else 1


if __name__ == "__main__":
    raise SystemExit(main())
