"""What every request needs is built once per process, not per request.

Issue 12 (GET of a small file, the per-request cost of the whole stack):
profiled, each request rebuilt the drive options from the settings (parsing
the category quotas), compiled the junk-name patterns into a regular
expression, and parsed the account's login hours. These are pure functions of
settings or of a row's text; they are now built once and shared, and a
changed input still gives its own, new result.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy.orm import Session

from davdrive import signin
from davdrive.policy import SYSTEM
from davdrive.runtime import Runtime
from davdrive.services import Drive, DriveOptions


def test_the_drive_options_are_built_once_per_runtime(runtime: Runtime) -> None:
    assert runtime.drive_options is runtime.drive_options
    assert runtime.drive_options.inline_blob_bytes == runtime.settings["storage.inline_blob_bytes"]


def test_drives_of_one_runtime_share_one_compiled_junk_matcher(
    runtime: Runtime, session: Session
) -> None:
    first = Drive(session, runtime.blobs, SYSTEM, runtime.drive_options)
    second = Drive(session, runtime.blobs, SYSTEM, runtime.drive_options)
    assert first.is_junk is second.is_junk
    assert first.is_junk("._report.pdf") and first.is_junk("THUMBS.DB")
    assert not first.is_junk("report.pdf")


def test_other_junk_patterns_get_their_own_matcher() -> None:
    mine = DriveOptions(junk_names=("*.tmp",))
    assert mine.is_junk("a.TMP") and not mine.is_junk("._a")
    assert DriveOptions().is_junk("._a") and not DriveOptions().is_junk("a.tmp")


def _row(hours: str) -> signin.AccountRow:
    return signin.AccountRow(
        user_id=1, login="u", password_hash="h", auth_version=1, degree=0, active=True,
        expires_at=None, login_hours=hours, category_id=1, category_slug="c",
        category_version=1, category_login=True, documents="read", members="none",
        config=False, may_delete=False, excluded_doc_types=(),
    )


def test_login_hours_are_parsed_once_and_still_decide() -> None:
    """A Monday 10:00 (local time) is inside "mon-fri 08:00-19:00", a Sunday is not;
    the second request with the same schedule parses nothing."""
    monday = dt.datetime(2026, 11, 30, 10, 0).astimezone()
    sunday = dt.datetime(2026, 11, 29, 10, 0).astimezone()
    row = _row("mon-fri 08:00-19:00")
    assert row.login_facts(monday).inside_hours
    before = signin._hours.cache_info()
    assert not row.login_facts(sunday).inside_hours
    after = signin._hours.cache_info()
    assert after.misses == before.misses and after.hits == before.hits + 1
    assert not _row("broken").login_facts(monday).inside_hours  # unreadable: closed
