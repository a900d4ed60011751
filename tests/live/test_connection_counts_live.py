"""Connection statistics over the real server, where files go out as file bodies.

Rules (docs/history-and-stats.md): a file answer handed to the server as a file
region (``wsgi.file_wrapper``, in blocks or with sendfile) counts its bytes in
bytes out; a HEAD counts none; the counters reach the day's row when the
server's flusher runs (``stats.flush_seconds``), with no row written per request.
"""

from __future__ import annotations

import datetime as dt
import os
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from sqlalchemy import select

from davdrive.models import LoginStat
from davdrive.runtime import open_runtime
from davdrive.serve_command import start_stats_flusher
from davdrive.server import DriveApp, create_app
from davdrive.settings import load_settings
from tests.conftest import LiveServer, add_user, basic, serving

pytestmark = pytest.mark.live

AUTH = {"Authorization": basic("tester", "secret")}
SIZE = 3 * (1 << 20) + 17


@pytest.fixture(params=[False, True], ids=["blocks", "sendfile"])
def counted(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[LiveServer]:
    """The live server (file answers in blocks, then with sendfile) with its flusher
    running every second, as ``serve`` runs it."""
    settings = load_settings(None, {}, {
        "data_dir": str(tmp_path / "data"), "server.port": 0,
        "server.sendfile": request.param, "stats.flush_seconds": 1,
    })
    runtime = open_runtime(settings)
    add_user(runtime, "tester", "secret", documents="write")
    app = create_app(settings, runtime)
    flusher = start_stats_flusher(app)
    try:
        with serving(app) as live:
            yield live
    finally:
        flusher.stop()
        app.close()


def _row(app: DriveApp) -> LoginStat | None:
    with app.runtime.sessions() as session:
        return session.scalars(select(LoginStat).where(
            LoginStat.login == "tester", LoginStat.interface == "dav",
            LoginStat.day == dt.date.today())).first()


def test_file_answers_count_their_bytes_and_the_flusher_stores_them(
    counted: LiveServer,
) -> None:
    data = os.urandom(SIZE)
    url = f"{counted.url}/dav/big.bin"
    with requests.Session() as http:
        answers = [
            http.put(url, data=data, headers=AUTH, timeout=60),
            http.get(url, headers=AUTH, timeout=60),
            http.get(url, headers={**AUTH, "Range": "bytes=10-1009"}, timeout=60),
            http.head(url, headers=AUTH, timeout=60),
        ]
    assert [a.status_code for a in answers] == [201, 200, 206, 200]
    assert answers[1].content == data and len(answers[2].content) == 1000
    sent = sum(len(a.content) for a in answers)
    row = None
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        row = _row(counted.app)
        if row is not None and row.requests == len(answers):
            break
        time.sleep(0.1)
    assert row is not None, "the flusher stored the counters"
    assert (row.requests, row.bytes_in, row.bytes_out) == (len(answers), SIZE, sent)
