"""The nightly backup of `serve` (seed 000: "sauvegardés toutes les nuits"): at
`backup.hour` (server's local time) every night, off by default (-1); a failed backup is
logged and never stops anything; the next night tries again."""

from __future__ import annotations

import datetime as dt
import logging

import pytest

from davdrive import snapshots
from davdrive.errors import ConfigError
from davdrive.nightly import RECHECK, Nightly, next_run, start_nightly
from davdrive.runtime import Runtime
from davdrive.settings import load_settings


def test_off_by_default_and_only_hours_or_minus_one() -> None:
    assert load_settings(None, {}, {})["backup.hour"] == -1
    assert load_settings(None, {"DAVDRIVE_BACKUP_HOUR": "3"}, {})["backup.hour"] == 3
    for bad in ("24", "-2"):
        with pytest.raises(ConfigError, match="backup.hour"):
            load_settings(None, {"DAVDRIVE_BACKUP_HOUR": bad}, {})


def test_no_thread_when_off(runtime: Runtime) -> None:
    assert start_nightly(runtime) is None


def test_the_next_run_is_the_first_hour_strictly_after_now() -> None:
    at = dt.datetime
    assert next_run(at(2025, 3, 10, 1, 59), 3) == at(2025, 3, 10, 3)
    assert next_run(at(2025, 3, 10, 3, 0), 3) == at(2025, 3, 11, 3)  # just ran: tomorrow
    assert next_run(at(2025, 3, 10, 22, 0), 3) == at(2025, 3, 11, 3)
    assert next_run(at(2025, 12, 31, 23, 30), 0) == at(2026, 1, 1, 0)


class Clock:
    """A fake local clock that ``wait`` moves forward; stops after ``nights``."""

    def __init__(self, start: dt.datetime, until: dt.datetime) -> None:
        self.now, self.until = start, until
        self.waits: list[float] = []

    def wait(self, seconds: float) -> bool:
        self.waits.append(seconds)
        self.now += dt.timedelta(seconds=seconds)
        return self.now >= self.until


def test_a_backup_every_night_at_the_hour_and_a_failure_is_only_logged(
    caplog: pytest.LogCaptureFixture,
) -> None:
    clock = Clock(dt.datetime(2025, 3, 10, 12, 0), until=dt.datetime(2025, 3, 13, 12, 0))
    runs: list[dt.datetime] = []

    def backup() -> str:
        runs.append(clock.now)
        if len(runs) == 1:
            raise OSError("No space left on device")
        return "snapshot taken"

    nightly = Nightly(3, backup, now=lambda: clock.now, wait=clock.wait)
    with caplog.at_level(logging.INFO, logger="davdrive"):
        nightly.loop()  # returns when the clock reaches ``until``
    assert runs == [dt.datetime(2025, 3, d, 3, 0) for d in (11, 12, 13)]
    assert max(clock.waits) <= RECHECK  # the clock is read again at least that often
    failed = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert len(failed) == 1 and "nightly backup failed" in failed[0].getMessage()
    assert failed[0].exc_info is not None and "No space left" in str(failed[0].exc_info[1])
    assert sum("nightly backup: snapshot taken" in r.getMessage() for r in caplog.records) == 2


def test_the_thread_runs_a_real_backup_of_the_drive(
    runtime: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``start_nightly`` wires the thread to ``run_backup`` of the serving runtime."""
    started: list[Nightly] = []
    monkeypatch.setattr(Nightly, "start", lambda self: started.append(self))
    hourly = Runtime(runtime.settings.replace(**{"backup.hour": 4}), runtime.engine,
                     runtime.sessions, runtime.blobs)
    nightly = start_nightly(hourly)
    assert nightly is not None and started == [nightly] and nightly.hour == 4
    nightly.run_once()
    assert len(snapshots.listing(runtime.settings.backup_dir)) == 1
