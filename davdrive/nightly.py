"""The nightly backup of ``serve`` (``backup.hour``; -1, the default, turns it off).

``Nightly`` is a daemon thread that waits for the next ``hour``:00 (the
server's local time), runs the backup, logs what it did and waits for the next
night. It looks at the clock at least every ``RECHECK`` seconds, so a clock
change or a suspended machine only delays a run. A backup that fails is logged
and tried again the next night; it never stops the server. With ``serve
--workers N`` only worker 0 runs it (``davdrive.server``).
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
from collections.abc import Callable

from davdrive.backup import run_backup
from davdrive.runtime import Runtime

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

    def backup() -> str:
        result = run_backup(runtime)
        if not result.complete:
            raise RuntimeError(
                f"snapshot {result.path} lacks {len(result.missing)} blob file(s) missing "
                f"from the store (first {result.missing[0]}); no rotation was done"
            )
        return f"{result.path} ({result.summary()}; {len(result.removed)} removed)"

    nightly = Nightly(hour, backup)
    nightly.start()
    return nightly
