#!/usr/bin/env python3
"""Timing channel check: a hidden path must answer as fast as a missing one.

Builds a drive in a temporary folder (a few thousand nodes, a member of
degree 1, a degree-3 folder, a treasury file), serves it with the real
``davdrive serve``, then sends GET and PROPFIND to hidden and to missing paths,
interleaved, and reports the median time of each and the hidden/missing
ratio. The design asks for a ratio within 1.2 (rule 4: no response, timing
included, reveals that an invisible item exists).

    python bench/hidden_missing.py [--rounds 400] [--files 5000]

Exit status 1 when a ratio is over the bound. Standard library and the
project only; loopback only.
"""

from __future__ import annotations

import argparse
import base64
import http.client
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path

from servers import davdrive

BOUND = 1.2
PASSWORD = "bench-password-1"  # noqa: S105  (a throwaway drive)
PROPFIND = (
    b'<?xml version="1.0"?><D:propfind xmlns:D="DAV:"><D:prop><D:resourcetype/>'
    b"<D:getcontentlength/></D:prop></D:propfind>"
)
# (label, hidden path, missing path of the same shape)
PAIRS = [
    ("degree-3 folder", "/dav/Docs/Board/", "/dav/Docs/Nothing/"),
    ("file in it", "/dav/Docs/Board/minutes-1.txt", "/dav/Docs/Nothing/minutes-1.txt"),
    ("treasury file", "/dav/Docs/Budget.txt", "/dav/Docs/Nothing.txt"),
]


def build(data: Path, files: int) -> None:
    """A drive with ``files`` visible files, and hidden items among them."""
    from sqlalchemy import create_engine, insert, select

    davdrive(data, "init")
    davdrive(data, "user", "add", "member1", "--category", "member", "--degree", "1",
             "--password-stdin", stdin=PASSWORD + "\n")
    davdrive(data, "folder", "add", "/Docs")
    davdrive(data, "folder", "rights", "/Docs", "member=read")
    davdrive(data, "folder", "add", "/Docs/Board")
    davdrive(data, "node", "set", "/Docs/Board", "--min-degree", "3")
    from davdrive.models import Node

    engine = create_engine(f"sqlite:///{data / 'davdrive.sqlite3'}")
    with engine.begin() as conn:
        query = select(Node.name, Node.id).where(Node.name.in_(["Docs", "Board"]))
        ids = {name: node_id for name, node_id in conn.execute(query)}
        rows = [
            {"parent_id": ids["Docs"], "name": f"file-{i}.txt", "name_key": f"file-{i}.txt",
             "kind": "file", "size": 0, "mtime": time.time(), "doc_type": None}
            for i in range(files)
        ]
        rows += [
            {"parent_id": ids["Board"], "name": f"minutes-{i}.txt", "name_key": f"minutes-{i}.txt",
             "kind": "file", "size": 0, "mtime": time.time(), "doc_type": None}
            for i in range(100)
        ]
        rows.append({"parent_id": ids["Docs"], "name": "Budget.txt", "name_key": "budget.txt",
                     "kind": "file", "size": 0, "mtime": time.time(), "doc_type": "treasury"})
        conn.execute(insert(Node), rows)  # every row has the same keys (executemany)
    engine.dispose()


def serve(data: Path) -> tuple[subprocess.Popen[str], int]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "davdrive.cli", "--data", str(data), "serve", "--port", "0"],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
    )
    assert proc.stdout is not None
    line = proc.stdout.readline()
    if "Serving on" not in line:
        proc.kill()
        raise SystemExit(f"the server did not start: {line!r}")
    port = int(line.rsplit(":", 1)[1].split("/", 1)[0])
    return proc, port


def timed(conn: http.client.HTTPConnection, method: str, path: str, auth: str) -> float:
    headers = {"Authorization": auth}
    body = None
    if method == "PROPFIND":
        headers["Depth"] = "0"
        body = PROPFIND
    start = time.perf_counter()
    conn.request(method, path, body=body, headers=headers)
    response = conn.getresponse()
    response.read()
    elapsed = time.perf_counter() - start
    if response.status != 404:
        raise SystemExit(f"{method} {path} answered {response.status}, expected 404")
    return elapsed


def interleaved_medians(
    a: Callable[[], float], b: Callable[[], float], rounds: int, warmup: int
) -> tuple[float, float]:
    """Median seconds of ``a`` and ``b``, run alternately (order flipping each round,
    after ``warmup`` rounds) so that drift in the machine's load hits both alike."""
    for _ in range(warmup):
        a()
        b()
    times_a: list[float] = []
    times_b: list[float] = []
    for i in range(rounds):
        if i % 2:
            times_a.append(a())
            times_b.append(b())
        else:
            times_b.append(b())
            times_a.append(a())
    return statistics.median(times_a), statistics.median(times_b)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=400)
    parser.add_argument("--files", type=int, default=5000)
    args = parser.parse_args()
    auth = "Basic " + base64.b64encode(f"member1:{PASSWORD}".encode()).decode()
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "data"
        print(f"building a drive of {args.files} files ...", file=sys.stderr)
        build(data, args.files)
        proc, port = serve(data)
        worst = 0.0
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
            print("| method | hidden item | hidden median ms | missing median ms | ratio |")
            print("|---|---|---|---|---|")
            for method in ("GET", "PROPFIND"):
                for label, hidden, missing in PAIRS:
                    h, m = interleaved_medians(
                        partial(timed, conn, method, hidden, auth),
                        partial(timed, conn, method, missing, auth),
                        args.rounds, warmup=20,
                    )
                    ratio = h / m
                    worst = max(worst, ratio, m / h)
                    print(f"| {method} | {label} | {h * 1000:.2f} | {m * 1000:.2f} | {ratio:.2f} |")
        finally:
            proc.terminate()
            proc.wait(timeout=10)
    verdict = "within" if worst <= BOUND else "OVER"
    print(f"\nworst hidden/missing ratio (either way): {worst:.2f}, {verdict} the bound {BOUND}")
    return 0 if worst <= BOUND else 1


if __name__ == "__main__":
    raise SystemExit(main())
