"""HTTP client side of the benchmark: keep-alive connections and closed-loop load.

http.client rather than requests: on a 2-core machine the client competes with
the server for CPU, and http.client costs a fraction of the CPU per request.
Every connection sets TCP_NODELAY and reads in 1 MiB blocks.
"""

from __future__ import annotations

import base64
import http.client
import socket
import threading
import time
import urllib.parse
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

perf = time.perf_counter
USER_AGENT = "davdrive-bench/1"


@dataclass
class Target:
    """One server under test: a name, the URL of its root folder, optional credentials,
    and ``prepare``, the filesystem folder that URL maps to (fixtures written to disk)."""

    name: str
    url: str
    user: str | None = None
    password: str | None = None
    prepare: str | None = None

    def __post_init__(self) -> None:
        if not self.url.endswith("/"):
            self.url += "/"
        parts = urllib.parse.urlsplit(self.url)
        if parts.scheme != "http":
            raise SystemExit(f"only plain http targets are benchmarked: {self.url}")
        self.host = parts.hostname or "127.0.0.1"
        self.port = parts.port or 80
        self.base = parts.path or "/"
        self.auth = None
        if self.user is not None:
            token = base64.b64encode(f"{self.user}:{self.password or ''}".encode()).decode()
            self.auth = "Basic " + token

    def path(self, rel: str) -> str:
        return self.base + urllib.parse.quote(rel)


class Errors:
    """A count of failures and a few distinct messages."""

    def __init__(self) -> None:
        self.count = 0
        self.samples: dict[str, int] = {}

    def add(self, message: str) -> None:
        self.count += 1
        if len(self.samples) < 8 or message in self.samples:
            self.samples[message] = self.samples.get(message, 0) + 1

    def merge(self, other: Errors) -> None:
        self.count += other.count
        for message, n in other.samples.items():
            if len(self.samples) < 8 or message in self.samples:
                self.samples[message] = self.samples.get(message, 0) + n


def describe(exc: BaseException) -> str:
    text = str(exc)
    return f"{type(exc).__name__}: {text[:120]}" if text else type(exc).__name__


@dataclass
class Answer:
    status: int
    headers: dict[str, str]
    body: bytes
    size: int
    ttfb: float
    total: float
    extra: dict[str, Any] = field(default_factory=dict)


class Conn:
    """One keep-alive connection to a target; reopens once on a stale socket."""

    def __init__(self, target: Target, timeout: float = 60.0) -> None:
        self.target = target
        self.timeout = timeout
        self.conn: http.client.HTTPConnection | None = None
        self.buffer: bytearray | None = None

    def open(self) -> None:
        conn = http.client.HTTPConnection(
            self.target.host, self.target.port, timeout=self.timeout, blocksize=1 << 20
        )
        conn.connect()
        assert conn.sock is not None
        conn.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.conn = conn

    def close(self) -> None:
        if self.conn is not None:
            self.conn.close()
        self.conn = None

    def request(self, method: str, path: str, body: Any = None,
                headers: dict[str, str] | None = None, discard: bool = False) -> Answer:
        """Send one request and read the whole answer (``discard``: count bytes, keep none)."""
        sent = {"User-Agent": USER_AGENT}
        if self.target.auth:
            sent["Authorization"] = self.target.auth
        if headers:
            sent.update(headers)
        if body is None and method in ("PUT", "PROPFIND", "MKCOL"):
            sent.setdefault("Content-Length", "0")
        for attempt in (0, 1):
            fresh = self.conn is None
            if fresh:
                self.open()
            assert self.conn is not None
            try:
                start = perf()
                self.conn.request(method, path, body=body, headers=sent)
                response = self.conn.getresponse()
                first = perf()
                data = b""
                if discard:
                    if self.buffer is None:
                        self.buffer = bytearray(1 << 20)
                    view = memoryview(self.buffer)
                    size = 0
                    while n := response.readinto(view):
                        size += n
                else:
                    data = response.read()
                    size = len(data)
                end = perf()
                got = {k.lower(): v for k, v in response.getheaders()}
                if response.will_close:
                    self.close()
                return Answer(response.status, got, data, size, first - start, end - start)
            except (http.client.RemoteDisconnected, ConnectionResetError,
                    BrokenPipeError, http.client.BadStatusLine):
                self.close()
                replayable = body is None or isinstance(body, bytes | bytearray)
                if attempt == 0 and not fresh and replayable:
                    continue
                raise
            except BaseException:
                self.close()
                raise
        raise AssertionError("unreachable")


Op = Callable[[Conn, int, int], str | None]


def closed_loop(target: Target, conc: int, duration: float, op: Op,
                timeout: float = 60.0) -> dict[str, Any]:
    """``conc`` threads, one keep-alive connection each, call ``op(conn, thread, seq)``
    (None = success, else an error message) back to back for ``duration`` seconds."""
    latencies: list[list[float]] = [[] for _ in range(conc)]
    errors = [Errors() for _ in range(conc)]
    ends = [0.0] * conc
    barrier = threading.Barrier(conc + 1)
    deadline = [0.0]

    def worker(i: int) -> None:
        conn = Conn(target, timeout)
        try:
            try:
                conn.open()  # connect before the clock starts
            except OSError as exc:
                errors[i].add(describe(exc))
            barrier.wait()
            seq = consecutive = 0
            while (start := perf()) < deadline[0]:
                try:
                    err = op(conn, i, seq)
                except Exception as exc:  # noqa: BLE001
                    conn.close()
                    err = describe(exc)
                seq += 1
                if err is None:
                    latencies[i].append(perf() - start)
                    consecutive = 0
                else:
                    errors[i].add(err)
                    consecutive += 1
                    if consecutive >= 50:
                        break
            ends[i] = perf()
        finally:
            conn.close()

    threads = [threading.Thread(target=worker, args=(i,), daemon=True) for i in range(conc)]
    for thread in threads:
        thread.start()
    deadline[0] = perf() + duration
    began = perf()
    barrier.wait()
    for thread in threads:
        thread.join()
    merged = Errors()
    for e in errors:
        merged.merge(e)
    lat = [x for per in latencies for x in per]
    return {"ops": len(lat), "elapsed": max(max(ends) - began, 1e-9), "lat": lat,
            "errors": merged}


def in_parallel(target: Target, items: Iterable[Any], fn: Callable[[Conn, Any], str | None],
                conc: int = 8, timeout: float = 120.0) -> Errors:
    """Run ``fn(conn, item)`` over ``items`` on ``conc`` connections (fixtures)."""
    it = iter(items)
    lock = threading.Lock()
    errors = Errors()

    def worker() -> None:
        conn = Conn(target, timeout)
        try:
            while True:
                with lock:
                    item = next(it, None)
                if item is None:
                    return
                try:
                    err = fn(conn, item)
                except Exception as exc:  # noqa: BLE001
                    conn.close()
                    err = describe(exc)
                if err:
                    with lock:
                        errors.add(err)
        finally:
            conn.close()

    threads = [threading.Thread(target=worker, daemon=True) for _ in range(conc)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return errors
