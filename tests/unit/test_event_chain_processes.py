"""The event chain with writers in several processes (scale-out: DESIGN 10).

Rule: ``audit.record`` takes the database's write lock before it reads the last
hash, and that lock holds across processes (SQLite's write lock on its file,
PostgreSQL's advisory lock), so three processes of two threads each, appending
at once to one database, leave one chain: it verifies, holds every event, and
no two events share a ``prev_hash`` (no fork).
"""

from __future__ import annotations

import multiprocessing
import threading
from typing import Any

from sqlalchemy import func, select

from davdrive import audit, db
from davdrive.models import AuditEvent
from davdrive.runtime import Runtime

PROCESSES = 3
THREADS = 2
PER_THREAD = 20


def _append_from_threads(url: str, worker: int, start: Any) -> None:
    """In a child process: ``THREADS`` threads, each appending ``PER_THREAD`` events in
    transactions of their own, once every process is ready (``start``: a barrier)."""
    engine = db.make_engine(url, threads=THREADS)
    sessions = db.make_session_factory(engine)
    start.wait(60)  # every process has started (imports done): append at once

    def append(thread: int) -> None:
        for i in range(PER_THREAD):
            with sessions() as session:
                audit.record(session, user=f"p{worker}t{thread}", action="race", detail=str(i))
                session.commit()

    threads = [threading.Thread(target=append, args=(t,)) for t in range(THREADS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    engine.dispose()


def test_processes_appending_at_once_leave_one_chain(runtime: Runtime) -> None:
    context = multiprocessing.get_context("spawn")
    start = context.Barrier(PROCESSES)
    url = runtime.settings.database_url
    children = [context.Process(target=_append_from_threads, args=(url, w, start))
                for w in range(PROCESSES)]
    for child in children:
        child.start()
    for child in children:
        child.join(120)
    assert [child.exitcode for child in children] == [0] * PROCESSES
    total = PROCESSES * THREADS * PER_THREAD
    with runtime.sessions() as session:
        result = audit.check_chain(session)
        prevs = session.scalar(select(func.count(func.distinct(AuditEvent.prev_hash))))
    assert result.intact and result.events == total
    assert prevs == total, "no two events share a prev_hash: no fork"
