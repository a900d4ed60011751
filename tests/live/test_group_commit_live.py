"""SIGKILL right after concurrent 201s loses nothing, with commits grouped
(davdrive/group_commit.py; docs/durable-writes.md).

Rule: a 201 is durable before it is sent, also when it shares its commit with other
requests': the server answers a grouped write only after the commit that holds it
has returned.
"""

from __future__ import annotations

import os
import signal
import threading
from pathlib import Path

import pytest
import requests

from tests.conftest import basic
from tests.live.test_fast_put_live import assert_acknowledged_survive
from tests.live.test_serve_cli import init_with_admin, start_server, stop

pytestmark = pytest.mark.live

PASSWORD = "group-kill-password-1"
CLIENTS = 8
EACH = 40


def test_sigkill_right_after_concurrent_201s_loses_nothing(tmp_path: Path) -> None:
    """8 clients PUT 40 new small files each (unique bytes, keep-alive), SIGKILL as soon
    as the last 201 arrives, restart: every acknowledged file reads back byte for byte
    and ``davdrive check`` is clean."""
    data = tmp_path / "data"
    init_with_admin(data, "quick", PASSWORD)
    auth = {"Authorization": basic("quick", PASSWORD)}
    acked: dict[str, bytes] = {}
    failures: list[str] = []
    lock = threading.Lock()
    server, url = start_server(data)

    def client(c: int) -> None:
        with requests.Session() as session:
            for i in range(EACH):
                body = os.urandom(300 + i)
                name = f"c{c}-{i}.bin"
                answer = session.put(url + name, data=body, headers=auth, timeout=60)
                with lock:
                    if answer.status_code == 201:
                        acked[name] = body
                    else:
                        failures.append(f"{name}: {answer.status_code} {answer.text[:200]}")

    try:
        # One sign-in first: the burst then signs in from the credential cache (at
        # once, eight first sign-ins would meet the argon2 gate's 503).
        assert requests.request("PROPFIND", url, headers={**auth, "Depth": "0"},
                                timeout=30).status_code == 207
        threads = [threading.Thread(target=client, args=(c,)) for c in range(CLIENTS)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(120)
        server.send_signal(signal.SIGKILL)
        server.wait(timeout=10)
    finally:
        if server.poll() is None:
            stop(server)
    assert not failures, failures[:5]
    assert len(acked) == CLIENTS * EACH
    assert_acknowledged_survive(data, acked, auth)
