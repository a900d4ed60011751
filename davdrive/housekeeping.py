"""The server's periodic clean-up: DELETE eventually frees space.

``run_housekeeping`` purges the trash entries older than ``storage.trash_days``
(``davdrive.trash_purge``), then removes every blob nothing refers to any more
(``davdrive.blob_gc``: pruned versions, detached attachments, failed commits),
each in its own committed transaction, as the system; then what uploads left in
the store's temporary area untouched for ``STALE_TEMP_SECONDS`` (a process
killed mid-upload; on a bucket shared by several hosts, no restart clears it).

``Housekeeper`` runs it in a daemon thread every ``storage.collect_minutes``
(the first round a little after start), in one process of the data folder
only: the one that holds ``housekeeping.lock`` (an ``flock``, kept for the
process's life and dropped by the kernel when it ends, however it ends; the
other processes try again at each round, so one takes over). On PostgreSQL,
where the processes may be on several hosts with a data folder each, that
process must also hold the database's advisory lock ``HOUSEKEEPING_KEY`` on a
connection kept for its life (released by the database when the connection
ends, however the process ends): one process of the whole drive runs the
rounds. A failed round is logged and the next one tries again: it never
stops the server.
"""

from __future__ import annotations

import fcntl
import logging
import os
import threading
import time
import zlib
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import Connection, Engine, text
from sqlalchemy.orm import Session, sessionmaker

from davdrive.blob_backend import BlobBackend
from davdrive.blob_gc import Collected, collect_garbage
from davdrive.policy import SYSTEM
from davdrive.trash_purge import Purged, purge_trash

_log = logging.getLogger("davdrive")

LOCK_FILE = "housekeeping.lock"
HOUSEKEEPING_KEY = zlib.crc32(b"davdrive housekeeping") & 0x7FFFFFFF
FIRST_ROUND_SECONDS = 60.0
STALE_TEMP_SECONDS = 3600.0  # an upload in flight writes its temp item far more often


@dataclass(frozen=True)
class Round:
    purged: Purged
    collected: Collected
    stale_temp: int = 0  # temporary items removed


def run_housekeeping(
    sessions: sessionmaker[Session], blobs: BlobBackend, *, trash_days: int
) -> Round:
    """One round: purge the expired trash, collect every unreferenced blob, remove the
    stale temporary items."""
    with sessions() as session:
        purged = purge_trash(session, blobs, SYSTEM, older_than_days=trash_days)
        session.commit()
    with sessions() as session:
        collected = collect_garbage(session, blobs)
        session.commit()
    stale = blobs.remove_stale_temp(time.time() - STALE_TEMP_SECONDS)
    return Round(purged, collected, len(stale))


class Housekeeper:
    """``run_housekeeping`` every ``interval`` seconds in a daemon thread, in the one
    process holding the data folder's housekeeping lock (and, on a PostgreSQL
    ``engine``, the database's: one process of the drive)."""

    def __init__(
        self, data_dir: Path, sessions: sessionmaker[Session], blobs: BlobBackend, *,
        trash_days: int, interval: float, first_round: float = FIRST_ROUND_SECONDS,
        engine: Engine | None = None,
    ) -> None:
        self.data_dir = data_dir
        self._engine = engine if engine is not None and engine.dialect.name == "postgresql" \
            else None
        self._db_lock: Connection | None = None
        self.sessions = sessions
        self.blobs = blobs
        self.trash_days = trash_days
        self.interval = interval
        self.first_round = min(first_round, interval)
        self.rounds = 0  # rounds run by this process (tests read it)
        self._stop = threading.Event()
        self._lock_fd: int | None = None
        self._thread = threading.Thread(target=self._loop, name="housekeeping", daemon=True)

    def start(self) -> Housekeeper:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=30)
        if self._db_lock is not None:
            self._db_lock.invalidate()  # the session ends (not back to the pool): the
            self._db_lock.close()  # database releases the lock with it
            self._db_lock = None
        if self._lock_fd is not None:
            os.close(self._lock_fd)  # releases the lock
            self._lock_fd = None

    def _loop(self) -> None:
        wait = self.first_round
        while not self._stop.wait(wait):
            wait = self.interval
            if self._holds_lock():
                self._round()

    def _holds_lock(self) -> bool:
        if self._lock_fd is not None:
            return True
        try:
            fd = os.open(self.data_dir / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o600)
        except OSError:
            _log.exception("housekeeping: cannot open its lock file")
            return False
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)  # another process does it
            return False
        if self._engine is not None and not self._take_database_lock():
            os.close(fd)  # another host does it
            return False
        self._lock_fd = fd
        return True

    def _take_database_lock(self) -> bool:
        assert self._engine is not None
        try:
            conn = self._engine.connect().execution_options(isolation_level="AUTOCOMMIT")
        except Exception:
            _log.exception("housekeeping: cannot reach the database for its lock")
            return False
        try:
            taken = conn.execute(text("SELECT pg_try_advisory_lock(:key)"),
                                 {"key": HOUSEKEEPING_KEY}).scalar()
        except Exception:
            _log.exception("housekeeping: cannot take its lock in the database")
            taken = False
        if not taken:
            conn.close()
            return False
        self._db_lock = conn
        return True

    def _round(self) -> None:
        try:
            done = run_housekeeping(self.sessions, self.blobs, trash_days=self.trash_days)
        except Exception:  # logged; the next round tries again
            _log.exception("housekeeping round failed")
            return
        finally:
            self.rounds += 1
        purged, collected = done.purged, done.collected
        if done.stale_temp:
            _log.info("housekeeping: removed %d stale upload temp item(s)", done.stale_temp)
        if purged.entries or collected.blobs:
            _log.info(
                "housekeeping: purged %d trash entries (%d items); removed %d blobs, "
                "%d bytes freed", purged.entries, purged.items,
                purged.collected.blobs + collected.blobs,
                purged.collected.bytes + collected.bytes,
            )
