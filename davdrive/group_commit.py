"""Group commit: writes of concurrent requests made durable by one commit (one fsync).

Each durable commit costs an fsync of the database's log, and on SQLite the
writers also queue for its single write lock (waiting in the busy handler's
sleeps). ``GroupCommit.run(work)`` queues a unit of work; a thread that finds
no commit in progress becomes the leader: it takes every unit queued so far
(its own first among them), takes the write lock once, runs them one after
another in one transaction and commits once. The others wait, holding no
connection, until their unit's outcome is known: they return only after the
commit that made their write durable has returned, so a success is never
answered for a write that is not on disk.

Contract of a unit: ``work(conn)`` runs in a transaction that holds the write
lock (``davdrive.write_lock``) and that other units share; it re-reads what it
depends on first and writes nothing when it returns without writing (the
units before it see each other's writes, as a request coming just after
would). If a unit raises, or the commit fails, the whole transaction is
rolled back and every unit of the batch runs again alone (its own
transaction and commit): a failing unit costs the others one retry, never
their write, and its exception reaches only its own caller.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any, Generic, TypeVar

from sqlalchemy import Connection, Engine

from davdrive.write_lock import take_write_lock_on

T = TypeVar("T")

MAX_BATCH = 64  # units per commit: bounds how long the write lock is held


class _Ticket(Generic[T]):
    """One queued unit of work and, once done, its result or exception."""

    __slots__ = ("work", "done", "result", "error")

    def __init__(self, work: Callable[[Connection], T]) -> None:
        self.work = work
        self.done = False
        self.result: Any = None
        self.error: BaseException | None = None

    def outcome(self) -> T:
        if self.error is not None:
            raise self.error
        return self.result  # type: ignore[no-any-return]


class GroupCommit:
    """Commits the units of work of concurrent threads together (see module doc).
    One per engine and process; ``purpose`` names the write lock taken."""

    def __init__(self, engine: Engine, purpose: str = "drive") -> None:
        self._engine = engine
        self._purpose = purpose
        self._cond = threading.Condition()
        self._queue: list[_Ticket[Any]] = []
        self._leading = False

    def queued(self) -> int:
        """Units waiting for a leader (not counting the batch being committed)."""
        with self._cond:
            return len(self._queue)

    def run(self, work: Callable[[Connection], T]) -> T:
        """Run ``work`` in a shared transaction; returns its result once committed."""
        ticket: _Ticket[T] = _Ticket(work)
        with self._cond:
            self._queue.append(ticket)
        while True:
            with self._cond:
                while self._leading and not ticket.done:
                    self._cond.wait()
                if ticket.done:
                    return ticket.outcome()
                self._leading = True
                batch = self._queue[:MAX_BATCH]
                del self._queue[:MAX_BATCH]
            try:
                self._lead(batch)
            finally:
                with self._cond:
                    self._leading = False
                    self._cond.notify_all()

    def _lead(self, batch: list[_Ticket[Any]]) -> None:
        try:
            try:
                with self._engine.connect() as conn:
                    take_write_lock_on(conn, self._purpose)
                    results = [ticket.work(conn) for ticket in batch]
                    conn.commit()
            except Exception as exc:
                if len(batch) == 1:
                    batch[0].error = exc
                    batch[0].done = True
                    return
                for ticket in batch:
                    self._alone(ticket)
                return
            for ticket, result in zip(batch, results, strict=True):
                ticket.result = result
                ticket.done = True
        finally:
            for ticket in batch:  # never leave a waiter waiting (e.g. on an interrupt)
                if not ticket.done:
                    ticket.error = RuntimeError("the group commit was interrupted")
                    ticket.done = True

    def _alone(self, ticket: _Ticket[Any]) -> None:
        """Run one unit in a transaction of its own."""
        try:
            with self._engine.connect() as conn:
                take_write_lock_on(conn, self._purpose)
                ticket.result = ticket.work(conn)
                conn.commit()
        except Exception as exc:
            ticket.result = None
            ticket.error = exc
        ticket.done = True
