"""Group commit (davdrive/group_commit.py): concurrent writes share one commit, and a
success is answered only once its commit has returned (issue 12: put_small_c8 with
every 201 durable).

Real engine, real threads, real SQLite commits (counted with the engine's "commit"
event); the units append audit events, so the hash chain also proves that units of
one transaction see each other's writes in order.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from sqlalchemy import Connection, Engine, event, func, select

from davdrive import audit
from davdrive.group_commit import GroupCommit
from davdrive.models import AuditEvent
from davdrive.runtime import Runtime


@contextmanager
def counted_commits(engine: Engine) -> Iterator[list[int]]:
    commits: list[int] = []

    def count(_conn):  # type: ignore[no-untyped-def]
        commits.append(1)

    event.listen(engine, "commit", count)
    try:
        yield commits
    finally:
        event.remove(engine, "commit", count)


def append(label: str) -> Callable[[Connection], str]:
    def work(conn: Connection) -> str:
        return audit.append(conn, user="tester", action="test", path=f"/{label}")
    return work


def events(runtime: Runtime, path: str | None = None) -> int:
    with runtime.engine.connect() as conn:
        query = select(func.count()).select_from(AuditEvent)
        if path is not None:
            query = query.where(AuditEvent.path == path)
        return int(conn.execute(query).scalar_one())


class Blocked:
    """A leader whose unit waits (holding the write lock) until ``release``."""

    def __init__(self, group: GroupCommit) -> None:
        self.inside = threading.Event()
        self.go = threading.Event()

        def work(conn: Connection) -> str:
            result = append("leader")(conn)
            self.inside.set()
            assert self.go.wait(10)
            return result

        self.thread = threading.Thread(target=group.run, args=(work,))
        self.thread.start()
        assert self.inside.wait(10)

    def release(self) -> None:
        self.go.set()
        self.thread.join(10)


def queue_units(
    group: GroupCommit, runtime: Runtime, works: dict[str, Callable[[Connection], str]]
) -> tuple[dict[str, object], list[threading.Thread]]:
    """Run each work in a thread of its own; each records its result (or exception) and
    whether its write was visible to a fresh connection as soon as ``run`` returned."""
    outcomes: dict[str, object] = {}

    def client(label: str, work: Callable[[Connection], str]) -> None:
        try:
            group.run(work)
        except Exception as exc:
            outcomes[label] = exc
            return
        outcomes[label] = events(runtime, f"/{label}")  # committed when run returned?

    threads = [threading.Thread(target=client, args=item) for item in works.items()]
    for t in threads:
        t.start()
    deadline = time.monotonic() + 10
    while group.queued() < len(works):
        assert time.monotonic() < deadline, "the units never queued"
        time.sleep(0.001)
    return outcomes, threads


def test_units_queued_during_a_commit_share_the_next_one(runtime: Runtime) -> None:
    """Five writes arriving while a commit is in progress are made durable by ONE
    commit, and each caller returns only when its write is committed."""
    group = GroupCommit(runtime.engine)
    with counted_commits(runtime.engine) as commits:
        leader = Blocked(group)
        outcomes, threads = queue_units(
            group, runtime, {f"u{i}": append(f"u{i}") for i in range(5)}
        )
        leader.release()
        for t in threads:
            t.join(10)
    assert outcomes == {f"u{i}": 1 for i in range(5)}  # each saw its own committed row
    assert len(commits) == 2, "the leader's commit, then one for the five"
    assert events(runtime) == 6
    with runtime.sessions() as session:
        assert audit.verify(session) is None  # one chain, in order, no fork


def test_a_failing_unit_costs_the_others_a_retry_never_their_write(runtime: Runtime) -> None:
    """A unit that raises after writing rolls its batch back; the others then commit
    alone and succeed, the failing one's caller alone gets its error, and nothing of
    it is stored."""
    group = GroupCommit(runtime.engine)

    def failing(conn: Connection) -> str:
        append("bad")(conn)
        raise ValueError("refused after writing")

    with counted_commits(runtime.engine) as commits:
        leader = Blocked(group)
        outcomes, threads = queue_units(
            group, runtime, {"a": append("a"), "bad": failing, "c": append("c")}
        )
        leader.release()
        for t in threads:
            t.join(10)
    assert outcomes["a"] == 1 and outcomes["c"] == 1
    assert isinstance(outcomes["bad"], ValueError)
    assert events(runtime, "/bad") == 0
    assert len(commits) == 3, "the leader's, then a and c each alone"
    with runtime.sessions() as session:
        assert audit.verify(session) is None


def test_a_lone_unit_commits_at_once(runtime: Runtime) -> None:
    """The control: with nothing in progress, a write is committed by its own caller,
    without waiting for company."""
    group = GroupCommit(runtime.engine)
    with counted_commits(runtime.engine) as commits:
        group.run(append("alone"))
    assert len(commits) == 1 and events(runtime, "/alone") == 1
