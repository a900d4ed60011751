"""`davdrive serve` killed with SIGKILL during uploads, five times (issue 11).

Rules: every upload the server acknowledged (201) reads back byte for byte after
the restart; one in flight at the kill is all-or-nothing (404 or its whole body);
after each start-up no temp file is left in the blob store (the server removes
what the killed one left); `davdrive check` is clean at the end.
"""

from __future__ import annotations

import os
import signal
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from tests.conftest import basic
from tests.live.test_serve_cli import init_with_admin, run_cli, start_server, stop

pytestmark = pytest.mark.live

PASSWORD = "kill-test-password-1"
AUTH = {"Authorization": basic("killer", PASSWORD)}
CYCLES = 5


def slow_body(data: bytes, pause: float) -> Iterator[bytes]:
    """A chunked body sent in 64 KiB pieces with a pause between: still in flight at the kill."""
    for i in range(0, len(data), 65536):
        yield data[i:i + 65536]
        time.sleep(pause)


def uploader(url: str, prefix: str, stop_at: threading.Event,
             acked: dict[str, bytes], tried: dict[str, bytes], slow: bool) -> None:
    session = requests.Session()
    n = 0
    while not stop_at.is_set():
        n += 1
        name = f"{prefix}-{n}.bin"
        body = os.urandom(1_500_000 if slow else 20_000 + n)
        tried[name] = body
        try:
            answer = session.put(url + name, data=slow_body(body, 0.02) if slow else body,
                                 headers=AUTH, timeout=30)
        except requests.RequestException:
            return  # the server died under us
        if answer.status_code == 201:
            acked[name] = body


def test_sigkill_during_uploads_loses_no_acknowledged_file(tmp_path: Path) -> None:
    data = tmp_path / "data"
    init_with_admin(data, "killer", PASSWORD)
    acked: dict[str, bytes] = {}
    tried: dict[str, bytes] = {}
    temp_dir = data / "blobs" / "tmp"
    for cycle in range(CYCLES):
        server, url = start_server(data)
        try:
            assert sorted(temp_dir.iterdir()) == [], f"cycle {cycle}: temp files after start"
            stop_at = threading.Event()
            threads = [
                threading.Thread(target=uploader, daemon=True,
                                 args=(url, f"c{cycle}-{kind}{i}", stop_at, acked, tried,
                                       kind == "slow"))
                for i in range(2) for kind in ("fast", "slow")
            ]
            for t in threads:
                t.start()
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline and not (
                sum(n.startswith(f"c{cycle}-") for n in acked) >= 6
                and any(p.name.startswith("up-") for p in temp_dir.iterdir())
            ):
                time.sleep(0.05)
            server.send_signal(signal.SIGKILL)
            server.wait(timeout=10)
            stop_at.set()
            for t in threads:
                t.join(timeout=30)
        finally:
            if server.poll() is None:
                stop(server)
    assert len(acked) >= CYCLES * 6, len(acked)

    server, url = start_server(data)
    try:
        assert sorted(temp_dir.iterdir()) == []
        with requests.Session() as session:
            for name, body in tried.items():
                got = session.get(url + name, headers=AUTH, timeout=30)
                if name in acked:
                    assert got.status_code == 200 and got.content == body, name
                else:  # in flight at the kill: all or nothing
                    assert got.status_code == 404 or got.content == body, name
    finally:
        stop(server)
    check = run_cli(data, "check")
    assert check.returncode == 0, check.stdout + check.stderr
    assert "no problem found" in check.stdout
