"""The workloads and their fixtures.

Each workload's ``run(target, rep)`` returns a dict: ``value`` (in ``unit``) when the
repetition succeeded, ``errors`` (an ``Errors``), and details (``ttfb_ms``, ``lat``).
Every answer is checked: status, number of PROPFIND responses and their sizes, GET
bodies byte for byte, the size of a large PUT by HEAD afterwards.

Fixtures live under ``<target root>/<prefix>/``: written straight to disk when the
target has a ``prepare`` folder (bare WsgiDAV), else created by MKCOL and PUT
through the server (davdrive: real blobs and rows, exactly what clients produce).
"""

from __future__ import annotations

import os
import random
import re
import time
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from client import Conn, Errors, Target, closed_loop, describe, in_parallel
from stats import HIGHER, LOWER

MB = 1_000_000
PROPFIND_RCLONE = (
    b'<?xml version="1.0" encoding="utf-8"?>\n'
    b'<D:propfind xmlns:D="DAV:"><D:prop>'
    b"<D:resourcetype/><D:getcontentlength/><D:getlastmodified/><D:getetag/>"
    b"</D:prop></D:propfind>"
)
PROPFIND_ALLPROP = (
    b'<?xml version="1.0" encoding="utf-8"?>\n'
    b'<D:propfind xmlns:D="DAV:"><D:allprop/></D:propfind>'
)
XML_CT = 'application/xml; charset="utf-8"'
OCTETS = {"Content-Type": "application/octet-stream"}


@dataclass
class Params:
    """Sizes and repetitions; ``quick()`` shrinks them to seconds."""

    prefix: str = "bench"
    files_1k: int = 1000
    files_10k: int = 10000
    small_files: int = 256
    small_size: int = 1024
    large_mib: int = 256
    duration: float = 2.0
    warmup: float = 0.5
    reps_small: int = 7
    reps_pf1k: int = 7
    reps_pf10k: int = 5
    reps_large: int = 5
    timeout: float = 120.0
    block: bytes = field(default=b"", repr=False)

    def __post_init__(self) -> None:
        if not self.block:
            self.block = os.urandom(1 << 20)  # made before any clock starts

    def quick(self) -> Params:
        return Params(prefix=self.prefix, files_1k=40, files_10k=120, small_files=16,
                      large_mib=2, duration=0.25, warmup=0.05, reps_small=2, reps_pf1k=2,
                      reps_pf10k=2, reps_large=2, block=self.block)

    def small_payload(self) -> bytes:
        rng = random.Random(1234)
        return bytes(rng.getrandbits(8) for _ in range(self.small_size))

    def large_chunks(self, tag: str = "") -> Iterator[bytes | memoryview]:
        """The large payload in 1 MiB blocks; ``tag`` makes its first bytes unique, so no
        content-addressed store can skip the write."""
        block = memoryview(self.block)
        left = self.large_mib << 20
        first = True
        while left > 0:
            n = min(left, len(block))
            if first and tag:
                head = tag.encode()[:n]
                yield head + bytes(block[len(head):n])
            else:
                yield block[:n]
            first = False
            left -= n


def make_dirs(params: Params, t: Target, rels: list[str]) -> None:
    """Create folders (relative, with a trailing slash), parents first."""
    if t.prepare:
        for rel in rels:
            os.makedirs(os.path.join(t.prepare, rel), exist_ok=True)
        return
    conn = Conn(t, params.timeout)
    try:
        for rel in rels:
            status = conn.request("MKCOL", t.path(rel)).status
            if status not in (201, 405):  # 405: exists already
                raise RuntimeError(f"MKCOL {rel}: HTTP {status}")
    finally:
        conn.close()


def put_files(params: Params, t: Target, rels: list[str], payload: bytes) -> None:
    if t.prepare:
        for rel in rels:
            with open(os.path.join(t.prepare, rel), "wb") as f:
                f.write(payload)
        return

    def put(conn: Conn, rel: str) -> str | None:
        status = conn.request("PUT", t.path(rel), body=payload, headers=OCTETS).status
        return None if status in (200, 201, 204) else f"PUT {rel}: HTTP {status}"

    errors = in_parallel(t, rels, put, conc=8, timeout=params.timeout)
    if errors.count:
        raise RuntimeError(f"fixture PUT errors: {errors.count} {errors.samples}")


def put_large(params: Params, t: Target, rel: str, tag: str = "") -> tuple[int, float]:
    """PUT (or write) the large payload at ``rel``; returns (status, seconds)."""
    if t.prepare:
        with open(os.path.join(t.prepare, rel), "wb") as f:
            for chunk in params.large_chunks(tag):
                f.write(chunk)
        return 201, 0.0
    conn = Conn(t, max(params.timeout, 600))
    try:
        conn.open()
        start = time.perf_counter()
        status = conn.request("PUT", t.path(rel), body=params.large_chunks(tag), headers={
            **OCTETS, "Content-Length": str(params.large_mib << 20)}).status
        return status, time.perf_counter() - start
    finally:
        conn.close()



def make_fixture(params: Params, t: Target, name: str) -> None:
    """Build one named fixture on ``t``."""
    folder = f"{params.prefix}/{name}/"
    make_dirs(params, t, [folder])
    payload = params.small_payload()
    if name in ("pf1k", "pf10k"):
        n = params.files_1k if name == "pf1k" else params.files_10k
        put_files(params, t, [f"{folder}f{i:05d}.txt" for i in range(n)], payload)
    elif name == "small":
        put_files(params, t, [f"{folder}s{i:04d}.bin" for i in range(params.small_files)],
                  payload)
    elif name == "large":
        status, _ = put_large(params, t, f"{folder}big.bin")
        if status not in (200, 201, 204):
            raise RuntimeError(f"large fixture PUT: HTTP {status}")


def count_propfind(data: bytes, size: int) -> tuple[int, int]:
    """(responses, getcontentlength equal to ``size``) in a multistatus body."""
    root = ET.fromstring(data)  # noqa: S314  (our own servers' answers)
    want = str(size)
    responses = sum(1 for _ in root.iter("{DAV:}response"))
    sized = sum(1 for e in root.iter("{DAV:}getcontentlength") if (e.text or "").strip() == want)
    return responses, sized


class Workload:
    name = ""
    unit = ""
    better = HIGHER
    fixture = ""

    def __init__(self, params: Params) -> None:
        self.params = params

    def reps(self) -> int:
        raise NotImplementedError

    def warmup(self, t: Target) -> None:
        """Untimed first pass (connections, caches)."""

    def run(self, t: Target, rep: int) -> dict[str, Any]:
        raise NotImplementedError

    def finish(self) -> None:
        """Close what the workload kept open."""


class Propfind(Workload):
    """PROPFIND Depth 1 of a flat folder, on one kept-alive connection; ms per listing."""

    unit = "ms"
    better = LOWER

    def __init__(self, params: Params, name: str, fixture: str, body: bytes) -> None:
        super().__init__(params)
        self.name, self.fixture, self.body = name, fixture, body
        self.files = params.files_1k if fixture == "pf1k" else params.files_10k
        self.conns: dict[str, Conn] = {}

    def reps(self) -> int:
        return self.params.reps_pf1k if self.fixture == "pf1k" else self.params.reps_pf10k

    def _once(self, t: Target) -> Any:
        conn = self.conns.setdefault(t.name, Conn(t, self.params.timeout))
        return conn.request("PROPFIND", t.path(f"{self.params.prefix}/{self.fixture}/"),
                            body=self.body, headers={"Depth": "1", "Content-Type": XML_CT})

    def warmup(self, t: Target) -> None:
        self._once(t)

    def run(self, t: Target, rep: int) -> dict[str, Any]:
        res: dict[str, Any] = {"errors": Errors()}
        answer = self._once(t)
        if answer.status != 207:
            res["errors"].add(f"HTTP {answer.status}")
            return res
        responses, sized = count_propfind(answer.body, self.params.small_size)
        if responses != self.files + 1:
            res["errors"].add(f"expected {self.files + 1} responses, got {responses}")
        elif sized != self.files:
            res["errors"].add(f"expected {self.files} sizes of {self.params.small_size}, "
                              f"got {sized}")
        else:
            res["value"] = answer.total * 1000
            res["ttfb_ms"] = answer.ttfb * 1000
            res["bytes"] = answer.size
        return res

    def finish(self) -> None:
        for conn in self.conns.values():
            conn.close()


class SmallGet(Workload):
    """GET of 1 KiB files, ``conc`` keep-alive connections, closed loop; req/s."""

    unit = "req/s"
    fixture = "small"

    def __init__(self, params: Params, conc: int) -> None:
        super().__init__(params)
        self.conc = conc
        self.name = f"get_small_c{conc}"

    def reps(self) -> int:
        return self.params.reps_small

    def _load(self, t: Target, duration: float) -> dict[str, Any]:
        p = self.params
        paths = [t.path(f"{p.prefix}/small/s{i:04d}.bin") for i in range(p.small_files)]
        want = p.small_payload()

        def op(conn: Conn, i: int, seq: int) -> str | None:
            answer = conn.request("GET", paths[(i * 31 + seq) % len(paths)])
            if answer.status != 200:
                return f"HTTP {answer.status}"
            return None if answer.body == want else f"body mismatch ({answer.size} bytes)"

        return closed_loop(t, self.conc, duration, op, p.timeout)

    def warmup(self, t: Target) -> None:
        self._load(t, self.params.warmup)

    def run(self, t: Target, rep: int) -> dict[str, Any]:
        return rate(self._load(t, self.params.duration))


class SmallPut(Workload):
    """PUT of new 1 KiB files with unique content, ``conc`` connections; req/s."""

    unit = "req/s"
    fixture = "put"

    def __init__(self, params: Params, conc: int) -> None:
        super().__init__(params)
        self.conc = conc
        self.name = f"put_small_c{conc}"

    def reps(self) -> int:
        return self.params.reps_small

    def _load(self, t: Target, tag: str, duration: float) -> dict[str, Any]:
        p = self.params
        # One folder per target: two targets may serve the same folder on disk.
        folder = f"{p.prefix}/put/{self.name}-{re.sub(r'[^A-Za-z0-9]+', '-', t.name)}-{tag}/"
        make_dirs(p, t, [folder])
        base = t.path(folder)
        payload = p.small_payload()

        def op(conn: Conn, i: int, seq: int) -> str | None:
            unique = f"{t.name}:{tag}:{i}:{seq}:{time.time_ns()}:".encode()
            answer = conn.request("PUT", f"{base}t{i}-{seq:06d}.bin",
                                  body=unique + payload[len(unique):], headers=OCTETS)
            return None if answer.status in (200, 201, 204) else f"HTTP {answer.status}"

        return closed_loop(t, self.conc, duration, op, p.timeout)

    def warmup(self, t: Target) -> None:
        self._load(t, "warm", self.params.warmup)

    def run(self, t: Target, rep: int) -> dict[str, Any]:
        return rate(self._load(t, f"r{rep}", self.params.duration))


def rate(load: dict[str, Any]) -> dict[str, Any]:
    res: dict[str, Any] = {"errors": load["errors"], "ops": load["ops"]}
    if load["ops"] and not load["errors"].count:
        res["value"] = load["ops"] / load["elapsed"]
        res["lat"] = load["lat"]
    return res


class LargeGet(Workload):
    """GET of one large file on a fresh connection; MB/s (10^6 bytes)."""

    name = "get_large"
    unit = "MB/s"
    fixture = "large"

    def reps(self) -> int:
        return self.params.reps_large

    def _get(self, t: Target) -> Any:
        conn = Conn(t, max(self.params.timeout, 600))
        try:
            conn.open()
            return conn.request("GET", t.path(f"{self.params.prefix}/large/big.bin"),
                                discard=True)
        finally:
            conn.close()

    def warmup(self, t: Target) -> None:
        self._get(t)

    def run(self, t: Target, rep: int) -> dict[str, Any]:
        res: dict[str, Any] = {"errors": Errors()}
        answer = self._get(t)
        want = self.params.large_mib << 20
        if answer.status != 200:
            res["errors"].add(f"HTTP {answer.status}")
        elif answer.size != want:
            res["errors"].add(f"body of {answer.size} bytes, expected {want}")
        else:
            res["value"] = answer.size / answer.total / MB
        return res


class LargePut(Workload):
    """PUT of a new large file with unique content, then HEAD checks its size; MB/s."""

    name = "put_large"
    unit = "MB/s"
    fixture = "large"

    def reps(self) -> int:
        return self.params.reps_large

    def warmup(self, t: Target) -> None:
        self.run(t, -1)  # the first large write into a fresh server is often slower

    def run(self, t: Target, rep: int) -> dict[str, Any]:
        res: dict[str, Any] = {"errors": Errors()}
        rel = f"{self.params.prefix}/large/up-r{rep}.bin"
        want = self.params.large_mib << 20
        tag = f"{t.name}:{rep}:{time.time_ns()}:"
        target = Target(t.name, t.url, t.user, t.password)  # through HTTP, even for bare
        status, seconds = put_large(self.params, target, rel, tag)
        if status not in (200, 201, 204):
            res["errors"].add(f"HTTP {status}")
            return res
        conn = Conn(t, self.params.timeout)
        try:
            head = conn.request("HEAD", t.path(rel))
            size = int(head.headers.get("content-length", "-1"))
            if head.status != 200 or size != want:
                res["errors"].add(f"HEAD after PUT: HTTP {head.status}, size {size}")
                return res
            res["value"] = want / seconds / MB
            conn.request("DELETE", t.path(rel))  # untimed; keeps the disk small
        except Exception as exc:  # noqa: BLE001
            res["errors"].add(describe(exc))
        finally:
            conn.close()
        return res


def build_workloads(params: Params) -> list[Workload]:
    return [
        Propfind(params, "propfind1k", "pf1k", PROPFIND_RCLONE),
        Propfind(params, "propfind1k_allprop", "pf1k", PROPFIND_ALLPROP),
        Propfind(params, "propfind10k", "pf10k", PROPFIND_RCLONE),
        SmallGet(params, 1), SmallGet(params, 8),
        SmallPut(params, 1), SmallPut(params, 8),
        LargeGet(params), LargePut(params),
    ]


WORKLOAD_NAMES = ["propfind1k", "propfind1k_allprop", "propfind10k", "get_small_c1",
                  "get_small_c8", "put_small_c1", "put_small_c8", "get_large", "put_large"]
