"""The PUT fast path over the real cheroot server (issue 12: "uploads of identical content
in parallel never fail"; "every 201 durable").

- Races: 16 clients at once storing the same bytes, to one new name and to 16 new
  names, over and over with fresh content (the blob file and its row race each
  time), and overwriting one file with the same bytes: never a 5xx, one 201 per new
  name, every byte readable, the drive consistent (``davdrive check`` clean).
- The requests are the fast path's (plain Content-Length bodies): the server counts
  the PUTs it answered itself, through the environ key the middleware sets.
- Crash: ``davdrive serve`` killed with SIGKILL at once after a run of 201s; after a
  restart every acknowledged file reads back byte for byte.
"""

from __future__ import annotations

import hashlib
import os
import signal
from pathlib import Path
from typing import Any

import pytest
import requests

from davdrive.models import Blob
from provider.fast_put import ANSWERED
from tests.conftest import basic, serving
from tests.live.test_creation_races import (  # noqa: F401  (settings: a fixture)
    CLIENTS,
    assert_consistent,
    check,
    race,
    request,
    settings,
)
from tests.live.test_serve_cli import init_with_admin, run_cli, start_server, stop

pytestmark = pytest.mark.live


class Counting:
    """The app, counting the requests the fast path answered."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.fast = 0

    def __getattr__(self, name: str) -> Any:
        return getattr(self.app, name)

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        answer = self.app(environ, start_response)
        if environ.get(ANSWERED):
            self.fast += 1
        return answer


@pytest.fixture
def counted(app: Any) -> Any:
    counting = Counting(app)
    with serving(counting) as live:  # type: ignore[arg-type]
        yield live, counting


def test_identical_new_content_in_parallel_never_fails(counted: Any) -> None:
    """Five rounds of 16 PUTs of one new content to 16 new names (the blob row and the
    blob file race every round): all 201, one blob row each round, all readable."""
    live, counting = counted
    for round_ in range(5):
        body = f"round {round_}: the same bytes everywhere\n".encode() * 200
        results = race(live, lambda i, b=body, r=round_: request(
            live, "PUT", f"/dav/r{r}-{i}.bin", b))
        assert [s for s, _ in results] == [201] * CLIENTS, results
        with live.app.runtime.sessions() as session:
            assert session.get(Blob, hashlib.sha256(body).hexdigest()) is not None
        for i in range(CLIENTS):
            assert request(live, "GET", f"/dav/r{round_}-{i}.bin") == (200, body)
    assert counting.fast >= 5 * CLIENTS, "the PUTs did not take the fast path"
    assert_consistent(live)


def test_identical_content_to_one_new_name_gives_one_201(counted: Any) -> None:
    """16 x PUT of the same bytes to one new name: one 201, fifteen 204 (what each would
    get just after the winner), the file whole."""
    live, counting = counted
    body = b"one name, one content\n" * 300
    results = race(live, lambda i: request(live, "PUT", "/dav/same.bin", body))
    check(results, {204})
    assert request(live, "GET", "/dav/same.bin") == (200, body)
    assert counting.fast == CLIENTS
    assert_consistent(live)


def test_overwriting_with_identical_content_in_parallel_never_fails(counted: Any) -> None:
    live, counting = counted
    body = b"already there\n" * 100
    assert request(live, "PUT", "/dav/over.bin", body)[0] == 201
    results = race(live, lambda i: request(live, "PUT", "/dav/over.bin", body))
    assert [s for s, _ in results] == [204] * CLIENTS, results
    assert request(live, "GET", "/dav/over.bin") == (200, body)
    assert counting.fast == CLIENTS + 1
    assert_consistent(live)


PASSWORD = "fast-kill-password-1"


def test_sigkill_right_after_fast_201s_loses_nothing(tmp_path: Path) -> None:
    """Rule: a 201 is durable before it is sent. 200 fast PUTs (new names, unique bytes,
    one keep-alive connection), SIGKILL as soon as the last 201 arrives, restart: every
    file reads back byte for byte and ``davdrive check`` is clean."""
    data = tmp_path / "data"
    init_with_admin(data, "quick", PASSWORD)
    auth = {"Authorization": basic("quick", PASSWORD)}
    acked: dict[str, bytes] = {}
    server, url = start_server(data)
    try:
        with requests.Session() as session:
            for i in range(200):
                body = os.urandom(512 + i)
                answer = session.put(f"{url}f{i}.bin", data=body, headers=auth, timeout=30)
                assert answer.status_code == 201, answer.text
                acked[f"f{i}.bin"] = body
        server.send_signal(signal.SIGKILL)
        server.wait(timeout=10)
    finally:
        if server.poll() is None:
            stop(server)
    assert_acknowledged_survive(data, acked, auth)


def assert_acknowledged_survive(data: Path, acked: dict[str, bytes],
                                auth: dict[str, str]) -> None:
    """After a crash: a restarted server gives every acknowledged file back whole,
    and ``davdrive check`` finds the data folder sound."""
    server, url = start_server(data)
    try:
        with requests.Session() as session:
            for name, body in acked.items():
                got = session.get(url + name, headers=auth, timeout=30)
                assert got.status_code == 200 and got.content == body, name
    finally:
        stop(server)
    check_run = run_cli(data, "check")
    assert check_run.returncode == 0, check_run.stdout + check_run.stderr

