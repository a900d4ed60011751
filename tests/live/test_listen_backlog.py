"""The listen backlog comes from ``server.listen_backlog`` (default 1024).

Rule (issue "reliability", finding 7): with cheroot's default backlog of 5, 64
clients connecting at once had connections reset. The kernel queues up to the
backlog's number of connections that the server has not accepted yet; past it,
Linux drops the client's SYN, so its connect stalls (and a busy client gives up).
"""

from __future__ import annotations

import errno
import http.client
import select
import socket
import threading
import time
from collections import Counter
from pathlib import Path

import pytest

from davdrive.runtime import Runtime
from davdrive.serve_command import make_server
from davdrive.server import create_app
from davdrive.settings import Settings, load_settings
from tests.conftest import LiveServer, basic

pytestmark = pytest.mark.live

CLIENTS = 64


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    """64 clients share 127.0.0.1: the per-address cap (tested elsewhere) is lifted."""
    return load_settings(None, {}, {
        "data_dir": str(tmp_path / "data"), "server.port": 0,
        "server.max_connections_per_ip": 0,
    })


def _connected_without_accept(port: int, count: int, wait: float = 1.5) -> int:
    """Open ``count`` connections to a socket nobody accepts on; how many completed."""
    socks = [socket.socket() for _ in range(count)]
    pending = set()
    done = 0
    try:
        for s in socks:
            s.setblocking(False)
            code = s.connect_ex(("127.0.0.1", port))
            if code == 0:
                done += 1
            elif code in (errno.EINPROGRESS, errno.EAGAIN):
                pending.add(s)
        deadline = time.monotonic() + wait
        while pending and time.monotonic() < deadline:
            _, writable, _ = select.select([], list(pending), [], 0.1)
            for s in writable:
                pending.discard(s)
                if s.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR) == 0:
                    done += 1
        return done
    finally:
        for s in socks:
            s.close()


@pytest.mark.parametrize(("backlog", "enough"), [(None, True), (5, False)])
def test_kernel_queues_as_many_connections_as_the_backlog_setting(
    tmp_path: Path, runtime: Runtime, backlog: int | None, enough: bool
) -> None:
    """64 connects to the bound server before it accepts any: with the default
    (1024) all 64 complete; with server.listen_backlog = 5 (cheroot's old default)
    most stall, which shows the setting is what the socket listens with."""
    overrides: dict[str, object] = {"data_dir": str(tmp_path / "data"), "server.port": 0}
    if backlog is not None:
        overrides["server.listen_backlog"] = backlog
    settings = load_settings(None, {}, overrides)
    assert settings["server.listen_backlog"] == (backlog or 1024)
    server = make_server(create_app(settings, runtime))
    server.prepare()  # bound and listening; serve() (the accept loop) never runs
    try:
        completed = _connected_without_accept(server.bind_addr[1], CLIENTS)
    finally:
        server.stop()
    if enough:
        assert completed == CLIENTS
    else:
        assert completed < CLIENTS // 2


def test_sixty_four_clients_uploading_at_once_get_no_connection_reset(
    live: LiveServer, runtime: Runtime
) -> None:
    """64 x PUT /dav/c<i>.txt on 64 connections released together: 64 x 201, no
    connection reset or refused, every file readable with its own content."""
    barrier = threading.Barrier(CLIENTS)
    results: list[object] = [None] * CLIENTS
    auth = {"Authorization": basic("tester", "secret")}

    def run(i: int) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", live.port, timeout=60)
        try:
            barrier.wait(timeout=30)
            conn.request("PUT", f"/dav/c{i}.txt", body=b"client %d\n" % i * 512, headers=auth)
            response = conn.getresponse()
            response.read()
            results[i] = response.status
        except (OSError, http.client.HTTPException) as exc:
            results[i] = type(exc).__name__
        finally:
            conn.close()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(CLIENTS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert Counter(results) == Counter({201: CLIENTS})
    for i in (0, CLIENTS // 2, CLIENTS - 1):
        conn = http.client.HTTPConnection("127.0.0.1", live.port, timeout=30)
        conn.request("GET", f"/dav/c{i}.txt", headers=auth)
        assert conn.getresponse().read() == b"client %d\n" % i * 512
        conn.close()
