"""The nightly backup of ``serve`` (``backup.hour``; -1, the default, turns it off).

``Nightly`` is a daemon thread that waits for the next ``hour``:00 (the
server's local time), runs the backup, logs what it did and waits for the next
night. It looks at the clock at least every ``RECHECK`` seconds, so a clock
change or a suspended machine only delays a run. A backup that fails is logged
and tried again the next night; it never stops the server. With ``serve
--workers N`` only worker 0 runs it (``davdrive.server``). On PostgreSQL the
servers of one drive may run on several hosts, each with its thread: one takes
the night's backup, the one that holds a session advisory lock
(``pg_try_advisory_lock``, key ``NIGHTLY_KEY``) and then finds no backup event
since tonight's hour (``nightly_backup``); the others skip it, with a log line.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
import zlib
from collections.abc import Callable

from sqlalchemy import func, select, text

from davdrive.backup import run_backup
from davdrive.models import AuditEvent
from davdrive.runtime import Runtime

NIGHTLY_KEY = zlib.crc32(b"davdrive nightly backup") & 0x7FFFFFFF

_log = logging.getLogger("davdrive")

RECHECK = 600.0  # seconds: the longest sleep before the clock is read again


def next_run(now: dt.datetime, hour: int) -> dt.datetime:
    """The first ``hour``:00 strictly after ``now`` (naive local times)."""
    run = now.replace(hour=hour, minute=0, second=0, microsecond=0)
    return run if run > now else run + dt.timedelta(days=1)


def _local_now() -> dt.datetime:
    return dt.datetime.now()


class Nightly:
    """Runs ``backup`` every night at ``hour``; ``now`` and ``wait`` (sleep up to the
    seconds given, True when stopped) are replaced in tests."""

    def __init__(
        self, hour: int, backup: Callable[[], str], *,
        now: Callable[[], dt.datetime] = _local_now,
        wait: Callable[[float], bool] | None = None,
    ) -> None:
        self.hour = hour
        self._backup = backup
        self._now = now
        self._stopped = threading.Event()
        self._wait = wait or self._stopped.wait
        self._thread = threading.Thread(target=self.loop, name="nightly-backup", daemon=True)

    def start(self) -> None:
        _log.info("nightly backup at %02d:00", self.hour)
        self._thread.start()

    def stop(self) -> None:
        self._stopped.set()

    def loop(self) -> None:
        due = next_run(self._now(), self.hour)
        while not self._wait(min(RECHECK, max(0.0, (due - self._now()).total_seconds()))):
            if self._now() >= due:
                self.run_once()
                due = next_run(self._now(), self.hour)

    def run_once(self) -> None:
        """One backup; any failure is logged, never raised."""
        try:
            done = self._backup()
        except Exception:
            _log.exception("nightly backup failed (serving goes on; next try tomorrow)")
        else:
            _log.info("nightly backup: %s", done)


def start_nightly(runtime: Runtime) -> Nightly | None:
    """Start the nightly backup of ``runtime``'s drive, or None when ``backup.hour`` is -1."""
    hour = runtime.settings["backup.hour"]
    if hour < 0:
        return None
    nightly = Nightly(hour, lambda: nightly_backup(runtime))
    nightly.start()
    return nightly


def nightly_backup(runtime: Runtime, now: dt.datetime | None = None) -> str:
    """Tonight's backup of ``runtime``'s drive, what it did in a line; on PostgreSQL only
    by the server whose turn it is (see the module): the others' line says so."""
    if runtime.engine.dialect.name != "postgresql":
        return _backup(runtime)
    with runtime.engine.connect() as conn:
        conn.execution_options(isolation_level="AUTOCOMMIT")
        if not conn.execute(text("SELECT pg_try_advisory_lock(:key)"),
                            {"key": NIGHTLY_KEY}).scalar():
            return "skipped: another server of the drive is taking tonight's backup"
        try:
            tonight = _tonight(runtime.settings["backup.hour"], now or _local_now())
            last = conn.execute(select(func.max(AuditEvent.time)).where(
                AuditEvent.action == "backup", AuditEvent.outcome == "ok")).scalar()
            if last is not None and last >= tonight:
                return f"skipped: another server of the drive took tonight's backup ({last})"
            return _backup(runtime)
        finally:
            conn.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": NIGHTLY_KEY})


def _tonight(hour: int, now: dt.datetime) -> dt.datetime:
    """The last ``hour``:00 at or before ``now`` (naive local time), in UTC."""
    due = now.replace(hour=hour, minute=0, second=0, microsecond=0)
    if due > now:
        due -= dt.timedelta(days=1)
    return due.astimezone(dt.UTC)


def _backup(runtime: Runtime) -> str:
    result = run_backup(runtime)
    if not result.complete:
        raise RuntimeError(
            f"snapshot {result.path} lacks {len(result.missing)} blob file(s) missing "
            f"from the store (first {result.missing[0]}); no rotation was done"
        )
    return f"{result.path} ({result.summary()}; {len(result.removed)} removed)"
