"""The server's periodic clean-up (DESIGN 4: DELETE eventually frees space).

Rules: a round purges the trash past ``storage.trash_days``, collects every
unreferenced blob and removes upload temp items untouched for an hour;
``serve`` runs rounds every ``storage.collect_minutes`` in one process of the
data folder only; a failed round is logged and never stops the server, the
next round tries again.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy import update
from sqlalchemy.orm import Session

from davdrive import housekeeping, tree
from davdrive.conflicts import ensure_blob_row
from davdrive.housekeeping import Housekeeper, run_housekeeping
from davdrive.models import Blob, Node
from davdrive.passwords import Passwords
from davdrive.policy import SYSTEM
from davdrive.runtime import Runtime, open_runtime
from davdrive.serve_command import start_housekeeping
from davdrive.server import DriveApp, create_app
from davdrive.services import Drive
from davdrive.settings import Settings, load_settings
from davdrive.trash import list_trash
from tests.conftest import files_only_settings, put_file


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return files_only_settings(tmp_path)


def deleted_days_ago(runtime: Runtime, session: Session, name: str, days: float) -> None:
    drive = Drive(session, runtime.blobs, SYSTEM, runtime.drive_options)
    node = put_file(drive, tree.get_root(session), name, name.encode() * 1000)
    drive.delete(node)
    when = dt.datetime.now(dt.UTC) - dt.timedelta(days=days)
    session.execute(update(Node).where(Node.id == node.id).values(deleted_at=when))
    session.commit()
    past = time.time() - 3600
    os.utime(runtime.blobs.path(node.blob_sha256 or ""), (past, past))


def trash_names(session: Session) -> list[str]:
    return [e.path for e in list_trash(session, SYSTEM, retention_days=30)]


def wait_for(condition: Callable[[], bool], seconds: float = 10) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.02)
    return False


def test_a_round_removes_upload_temp_files_untouched_for_an_hour(
    runtime: Runtime, session: Session
) -> None:
    """What a killed upload left goes at the next round (on a bucket shared by several
    hosts no restart clears it); a temp file written recently may be an upload in
    flight and stays."""
    tmp = runtime.settings.blob_dir / "tmp"
    stale, fresh = tmp / "up-killed", tmp / "up-in-flight"
    stale.write_bytes(b"left by a killed process")
    fresh.write_bytes(b"still being written")
    past = time.time() - housekeeping.STALE_TEMP_SECONDS - 60
    os.utime(stale, (past, past))

    done = run_housekeeping(runtime.sessions, runtime.blobs, trash_days=30)

    assert done.stale_temp == 1
    assert sorted(p.name for p in tmp.iterdir()) == ["up-in-flight"]


def test_a_round_purges_the_expired_trash_and_collects_the_rest(
    runtime: Runtime, session: Session
) -> None:
    deleted_days_ago(runtime, session, "expired.txt", 31)
    deleted_days_ago(runtime, session, "recent.txt", 29)
    stray = runtime.blobs.put_bytes(b"a blob nothing uses")
    ensure_blob_row(session, stray)
    session.commit()
    past = time.time() - 3600
    os.utime(runtime.blobs.path(stray.sha256), (past, past))

    done = run_housekeeping(runtime.sessions, runtime.blobs, trash_days=30)

    assert (done.purged.entries, done.purged.collected.blobs) == (1, 1)
    assert done.collected.blobs == 1  # the stray blob
    session.expire_all()
    assert trash_names(session) == ["/recent.txt"]
    assert session.get(Blob, stray.sha256) is None


def test_the_housekeeper_runs_rounds_until_stopped(runtime: Runtime, session: Session) -> None:
    deleted_days_ago(runtime, session, "expired.txt", 31)
    keeper = Housekeeper(runtime.settings.data_dir, runtime.sessions, runtime.blobs,
                         trash_days=30, interval=0.05, first_round=0).start()
    try:
        assert wait_for(lambda: keeper.rounds >= 2)
    finally:
        keeper.stop()
    session.expire_all()
    assert trash_names(session) == []
    rounds = keeper.rounds
    time.sleep(0.2)
    assert keeper.rounds == rounds  # stopped


def test_one_process_of_the_data_folder_does_the_rounds(runtime: Runtime) -> None:
    """Rule: the housekeeping lock picks one; when it stops, another takes over."""
    first, second = (
        Housekeeper(runtime.settings.data_dir, runtime.sessions, runtime.blobs,
                    trash_days=30, interval=0.05, first_round=0)
        for _ in range(2)
    )
    one_runs_then_the_other(first, second)


def one_runs_then_the_other(first: Housekeeper, second: Housekeeper) -> None:
    """``first`` started first does the rounds, ``second`` none; once ``first`` stops,
    ``second`` takes over. Both are stopped at the end."""
    try:
        first.start()
        assert wait_for(lambda: first.rounds >= 1)
        second.start()
        time.sleep(0.3)
        assert second.rounds == 0
        first.stop()
        assert wait_for(lambda: second.rounds >= 1)
    finally:
        first.stop()
        second.stop()


def test_a_failed_round_is_logged_and_the_next_one_runs(
    runtime: Runtime, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    calls: list[int] = []
    real = housekeeping.run_housekeeping

    def failing_once(*args: object, **kwargs: int) -> housekeeping.Round:
        calls.append(1)
        if len(calls) == 1:
            raise OSError("disk unplugged")
        return real(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(housekeeping, "run_housekeeping", failing_once)
    keeper = Housekeeper(runtime.settings.data_dir, runtime.sessions, runtime.blobs,
                         trash_days=30, interval=0.05, first_round=0)
    with caplog.at_level(logging.ERROR, logger="davdrive"):
        keeper.start()
        try:
            assert wait_for(lambda: len(calls) >= 2)
        finally:
            keeper.stop()
    assert "housekeeping round failed" in caplog.text and "disk unplugged" in caplog.text


def test_serve_starts_the_clean_up_unless_switched_off(
    settings: Settings, runtime: Runtime
) -> None:
    app: DriveApp = create_app(settings, runtime)
    keeper = start_housekeeping(app)
    assert keeper is not None
    try:
        assert keeper.interval == 60 * 60 and keeper.trash_days == 30
    finally:
        keeper.stop()
    off = create_app(settings.replace(**{"storage.collect_minutes": 0}), runtime)
    assert start_housekeeping(off) is None


def test_one_host_of_a_drive_on_postgresql_does_the_rounds(
    tmp_path: Path, postgresql_url: str, fast_passwords: Passwords
) -> None:
    """Rule: hosts have a data folder each, so the lock file picks one per host; on
    PostgreSQL the database's advisory lock picks one for the drive, and when its
    holder stops, another host takes over."""
    hosts = [open_runtime(load_settings(None, {}, {
        "data_dir": str(tmp_path / name), "database.url": postgresql_url,
    }), fast_passwords) for name in ("host-a", "host-b")]
    first, second = (
        Housekeeper(r.settings.data_dir, r.sessions, r.blobs, trash_days=30, interval=0.05,
                    first_round=0, engine=r.engine)
        for r in hosts
    )
    try:
        one_runs_then_the_other(first, second)
    finally:
        for runtime in hosts:
            runtime.close()
