"""Connection statistics: counted in memory per process, added to the daily rows in batches.

``ConnectionStats`` (one per ``Runtime``, shared by the process's threads)
counts, per (login, day, interface): sign-ins, refused sign-ins, requests,
request body bytes read and response body bytes sent. Counting takes a
mutex and touches no database: a request costs no write. ``flush`` adds
what was counted since the last flush to the ``login_stat`` rows, under the
database's write lock (``davdrive.write_lock``, purpose "login_stat", so that
processes sharing a PostgreSQL database never both insert a day's row): one
UPDATE per (login, day, interface) touched, and an INSERT when that day has
no row yet; then one commit. Counts a failed flush could not store are kept
for the next one. ``StatsFlusher`` flushes every ``stats.flush_seconds`` from
a background thread and once more when stopped, so a crash loses at most the
last few seconds of counters (events, written with the change they record,
are never lost that way).

Interfaces are ``dav`` (WebDAV) and ``admin`` (the admin view). Days are the
server's local days, taken when the request ends. Requests that no signed-in
user made (a client's first unauthenticated request, the sign-in page) count
under login "". A refused sign-in counts under the account's login, or under
"" when no account has that login, so that made-up logins add no rows.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import insert, update
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from davdrive.models import LoginStat
from davdrive.write_lock import take_write_lock

_log = logging.getLogger("davdrive.stats")

INTERFACES = ("dav", "admin")
MAX_LOGIN = 150
FIELDS = ("successes", "failures", "requests", "bytes_in", "bytes_out")

Key = tuple[str, dt.date, str]  # (login, day, interface)
Today = Callable[[], dt.date]


@dataclass
class Counts:
    """What one (login, day, interface) did since the last flush."""

    successes: int = 0
    failures: int = 0
    requests: int = 0
    bytes_in: int = 0
    bytes_out: int = 0

    def add(self, other: Counts) -> None:
        for name in FIELDS:
            setattr(self, name, getattr(self, name) + getattr(other, name))

    def values(self) -> dict[str, int]:
        return {name: getattr(self, name) for name in FIELDS}


class ConnectionStats:
    """Per-process counters, safe to use from every thread; see the module."""

    def __init__(self, today: Today = dt.date.today) -> None:
        self._today = today
        self._pending: dict[Key, Counts] = {}
        self._mutex = threading.Lock()
        self._flushing = threading.Lock()  # one flush at a time: counts are added once

    def request(self, login: str, interface: str, bytes_in: int, bytes_out: int) -> None:
        """Count one answered request of ``login`` ("" when nobody was signed in)."""
        counts = Counts(requests=1, bytes_in=max(bytes_in, 0), bytes_out=max(bytes_out, 0))
        self._add(login, interface, counts)

    def sign_in(self, login: str, interface: str, *, ok: bool) -> None:
        """Count a sign-in (``ok``) or a refused one: the hook the sign-in code calls,
        with the account's login ("" when no account has the login that was typed)."""
        self._add(login, interface, Counts(successes=1) if ok else Counts(failures=1))

    def _add(self, login: str, interface: str, counts: Counts) -> None:
        if interface not in INTERFACES:
            raise ValueError(f"unknown interface {interface!r}")
        key = (login[:MAX_LOGIN], self._today(), interface)
        with self._mutex:
            current = self._pending.get(key)
            if current is None:
                self._pending[key] = counts
            else:
                current.add(counts)

    def pending(self) -> dict[Key, Counts]:
        """A copy of what is counted and not flushed yet."""
        with self._mutex:
            return {key: Counts(**c.values()) for key, c in self._pending.items()}

    def _take(self) -> dict[Key, Counts]:
        with self._mutex:
            taken, self._pending = self._pending, {}
        return taken

    def _give_back(self, taken: dict[Key, Counts]) -> None:
        with self._mutex:
            for key, counts in taken.items():
                current = self._pending.setdefault(key, Counts())
                current.add(counts)

    def flush(self, sessions: Callable[[], Session]) -> int:
        """Add the pending counts to the daily rows in one transaction of a new
        session from ``sessions``; returns the number of rows touched (0: no SQL at
        all). On a database error the counts are kept for the next flush and the
        error is raised."""
        with self._flushing:
            taken = self._take()
            if not taken:
                return 0
            try:
                with sessions() as session:
                    take_write_lock(session, "login_stat")
                    for key in sorted(taken):
                        add_to_day(session, key, taken[key])
                    session.commit()
            except BaseException:
                self._give_back(taken)
                raise
            return len(taken)


def add_to_day(session: Session, key: Key, counts: Counts) -> None:
    """Add ``counts`` to the row of ``key`` (created when missing), in ``session``'s
    transaction, which must hold the write lock (see ``ConnectionStats.flush``)."""
    login, day, interface = key
    values = counts.values()
    updated = session.execute(
        update(LoginStat)
        .where(LoginStat.login == login, LoginStat.day == day, LoginStat.interface == interface)
        .values({name: getattr(LoginStat, name) + value for name, value in values.items()})
        .execution_options(synchronize_session=False)
    )
    if not getattr(updated, "rowcount", 0):
        session.execute(insert(LoginStat).values(login=login, day=day, interface=interface,
                                                 **values))


class StatsFlusher:
    """A daemon thread flushing ``stats`` every ``seconds``; ``stop`` flushes a last time."""

    def __init__(
        self, stats: ConnectionStats, sessions: Callable[[], Session], seconds: float
    ) -> None:
        self.stats = stats
        self.sessions = sessions
        self.seconds = seconds
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="davdrive-stats", daemon=True)

    def start(self) -> StatsFlusher:
        self._thread.start()
        return self

    def _run(self) -> None:
        while not self._stop.wait(self.seconds):
            self._flush()

    def _flush(self) -> None:
        try:
            self.stats.flush(self.sessions)
        except SQLAlchemyError as exc:  # kept for the next flush
            _log.warning("connection statistics not stored yet: %s", str(exc).splitlines()[0])

    def stop(self) -> None:
        """End the thread, then flush what is left."""
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=max(self.seconds, 1) + 30)
        self._flush()
