"""The event chain under concurrent writes, over the real cheroot server.

Rule (issue "reliability", finding 4): every event is appended under the database's
write lock, so events recorded at once by use cases and by refused sign-ins never
share a ``prev_hash``: the chain does not fork and ``audit.verify`` finds it intact.
"""

from __future__ import annotations

import http.client
import threading
from pathlib import Path

import pytest
from sqlalchemy import func, select

from davdrive import audit, db
from davdrive.models import AuditEvent
from davdrive.runtime import Runtime
from davdrive.settings import Settings, load_settings
from tests.conftest import LiveServer, basic

pytestmark = pytest.mark.live

WRITERS = 7
INTRUDERS = 3
ROUNDS = 6


@pytest.fixture
def settings(tmp_path: Path, database_url: str) -> Settings:
    """All clients share 127.0.0.1: the per-address cap (tested elsewhere) is lifted."""
    return load_settings(None, {}, {
        "data_dir": str(tmp_path / "data"), "server.port": 0, "database.url": database_url,
        "server.max_connections_per_ip": 0,
    })


def _send(port: int, method: str, path: str, auth: str, body: bytes | None = None,
          peer: str = "127.0.0.1") -> int:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30, source_address=(peer, 0))
    try:
        conn.request(method, path, body=body, headers={"Authorization": auth, "Depth": "0"})
        response = conn.getresponse()
        response.read()
        return response.status
    finally:
        conn.close()


def test_seven_writers_and_three_refused_sign_ins_leave_a_chain_that_verifies(
    live: LiveServer,
) -> None:
    """Rounds of 7 x PUT /dav/w<round>-<i>.txt (right password) and 3 x PROPFIND /dav/
    (wrong password), released together: every PUT 201, every sign-in 401, one event
    per PUT and per refusal, no two events with the same prev_hash, verify intact.
    Each intruder has its own address (6 failures each: under the sign-in throttle's
    limit, which would otherwise refuse the writers' address too)."""
    good, bad = basic("tester", "secret"), basic("tester", "wrong")
    statuses: list[tuple[str, int]] = []
    for rnd in range(ROUNDS):
        barrier = threading.Barrier(WRITERS + INTRUDERS)
        results: list[tuple[str, int]] = [("", 0)] * (WRITERS + INTRUDERS)

        def run(i: int, rnd: int = rnd, barrier: threading.Barrier = barrier,
                results: list[tuple[str, int]] = results) -> None:
            barrier.wait(timeout=30)
            try:
                if i < WRITERS:
                    status = _send(live.port, "PUT", f"/dav/w{rnd}-{i}.txt", good, b"x%d" % i)
                    results[i] = ("put", status)
                else:
                    results[i] = ("signin", _send(live.port, "PROPFIND", "/dav/", bad,
                                                  peer=f"127.0.2.{i}"))
            except (OSError, http.client.HTTPException):
                results[i] = ("error", -1)

        threads = [threading.Thread(target=run, args=(i,)) for i in range(WRITERS + INTRUDERS)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=60)
        statuses += results

    puts = [s for kind, s in statuses if kind == "put"]
    refusals = [s for kind, s in statuses if kind == "signin"]
    assert puts == [201] * (WRITERS * ROUNDS), statuses
    assert refusals == [401] * (INTRUDERS * ROUNDS), statuses

    with live.app.runtime.sessions() as session:
        events = session.scalar(select(func.count()).select_from(AuditEvent))
        distinct_prev = session.scalar(select(func.count(func.distinct(AuditEvent.prev_hash))))
        refused = session.scalar(
            select(func.count()).select_from(AuditEvent).where(AuditEvent.outcome == "refused")
        )
        assert refused == INTRUDERS * ROUNDS
        assert events is not None and events >= (WRITERS + INTRUDERS) * ROUNDS
        assert distinct_prev == events, "two events were appended to the same predecessor"
        assert audit.verify(session) is None


def test_events_recorded_at_once_over_two_connections_do_not_fork(
    runtime: Runtime, settings: Settings
) -> None:
    """16 threads each record 10 events (audit.record then commit, as a refused
    sign-in or a CLI command does) over two engines on one SQLite file, i.e. as
    two processes would: 160 events, 160 distinct prev_hash values, verify intact."""
    other = db.make_engine(settings.database_url, 8)
    factories = [runtime.sessions, db.make_session_factory(other)]
    barrier = threading.Barrier(16)
    errors: list[BaseException] = []

    def run(i: int) -> None:
        with factories[i % 2]() as session:
            barrier.wait(timeout=30)
            try:
                for _ in range(10):
                    audit.record(session, user=f"u{i}", action="login", outcome="refused")
                    session.commit()
            except BaseException as exc:  # any failure to record is a wrong answer
                errors.append(exc)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    other.dispose()
    assert errors == []
    with runtime.sessions() as session:
        rows = session.execute(select(AuditEvent.prev_hash)).scalars().all()
        assert len(rows) == 160 and len(set(rows)) == 160
        assert audit.verify(session) is None
