"""Snapshot rotation (DESIGN 4): after each backup keep the newest snapshot of each of
the last 8 days that have one, of each of the last 5 ISO weeks that have one and of
each of the last 12 months that have one; a snapshot kept for several reasons counts
once; every other snapshot is deleted.

Expected sets below are worked out from that rule on the calendar (the comments say
how), never taken from the program's output."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from davdrive import backup, snapshots
from davdrive.rotation import DAILY, MONTHLY, WEEKLY, keep

UTC = dt.UTC


def at(day: str, hour: int = 2) -> dt.datetime:
    return dt.datetime.fromisoformat(day).replace(hour=hour, tzinfo=UTC)


def days_of(year: int) -> list[dt.datetime]:
    first = dt.date(year, 1, 1)
    count = (dt.date(year + 1, 1, 1) - first).days
    return [at((first + dt.timedelta(days=i)).isoformat()) for i in range(count)]


# One snapshot a day at 02:00 UTC through 2025 (2025-12-31 is a Wednesday).
YEAR_KEPT = {
    # the last 8 days
    *(at(f"2025-12-{d}") for d in range(24, 32)),
    # the last 5 ISO weeks: 2026-W01 (Mon 29 Dec..) -> 31 Dec (already kept), 2025-W52 ->
    # Sun 28 Dec (already kept), W51 -> Sun 21, W50 -> Sun 14, W49 -> Sun 7 Dec
    at("2025-12-21"), at("2025-12-14"), at("2025-12-07"),
    # the last 12 months: each month's last day (December's, the 31st, already kept)
    at("2025-01-31"), at("2025-02-28"), at("2025-03-31"), at("2025-04-30"),
    at("2025-05-31"), at("2025-06-30"), at("2025-07-31"), at("2025-08-31"),
    at("2025-09-30"), at("2025-10-31"), at("2025-11-30"),
}


def test_the_documented_counts() -> None:
    assert (DAILY, WEEKLY, MONTHLY) == (8, 5, 12)


def test_a_year_of_daily_snapshots_keeps_exactly_the_rule() -> None:
    kept = keep(days_of(2025))
    assert kept == YEAR_KEPT
    # 8 + 5 + 12 reasons, 22 snapshots: those kept for several reasons count once
    assert len(kept) == 22


def test_rotating_after_every_nightly_backup_ends_with_the_same_snapshots() -> None:
    """What the server does: a backup, then a rotation, every night of the year. What a
    rotation deletes is gone for the next ones, and the result is still the rule's."""
    existing: set[dt.datetime] = set()
    for night in days_of(2025):
        existing = keep(existing | {night})
        assert night in existing  # the backup just taken is always kept
    assert existing == YEAR_KEPT


def test_the_backup_folder_after_a_year_of_nightly_rotations_holds_the_rule(
    tmp_path: Path,
) -> None:
    """The same year on disk: a snapshot folder (named by its time) each night, then
    ``backup.rotate`` on the folder, as `davdrive backup` does. What stays is the
    folders of YEAR_KEPT, plus a folder that is not a snapshot, never touched."""
    (tmp_path / "notes").mkdir()
    for night in days_of(2025):
        snapshot = tmp_path / snapshots.name_of(night)
        snapshot.mkdir()
        (snapshot / "manifest.json").write_text("{}")
        removed = backup.rotate(tmp_path)
        assert snapshot not in removed and snapshot.is_dir()
    assert {p.name for p in tmp_path.iterdir()} == {
        "notes", *(snapshots.name_of(t) for t in YEAR_KEPT)}


def test_of_several_snapshots_in_a_day_the_newest_is_kept() -> None:
    times = [at("2025-06-10", 1), at("2025-06-10", 13), at("2025-06-10", 23)]
    assert keep(times) == {at("2025-06-10", 23)}


# Irregular snapshots (2025-02-09 and 2025-03-02 are Sundays).
IRREGULAR = {
    1: at("2024-11-20", 10),
    2: at("2025-01-15", 3),
    3: at("2025-01-15", 22),  # same day as 2, later
    4: at("2025-02-03", 3),  # Monday of W06
    5: at("2025-02-09", 3),  # Sunday of W06
    6: at("2025-02-10", 3),  # Monday of W07
    7: at("2025-03-01", 3),  # Saturday of W09
    8: at("2025-03-02", 3),  # Sunday of W09
    9: at("2025-03-03", 3),  # Monday of W10
    10: at("2025-03-03", 4),  # same day as 9, later
}


def kept_numbers(**counts: int) -> set[int]:
    kept = keep(IRREGULAR.values(), **counts)
    return {n for n, t in IRREGULAR.items() if t in kept}


def test_irregular_snapshots_days_weeks_and_months_that_have_one() -> None:
    # days: 3 Mar (10), 2 Mar (8), 1 Mar (7); weeks: W10 (10), W09 (8);
    # months: March (10), February (6)
    assert kept_numbers(daily=3, weekly=2, monthly=2) == {10, 8, 7, 6}
    # day: 3 Mar (10); weeks: W10 (10), W09 (8), W07 (6); months: March (10),
    # February (6), January (3, the later of the 15th), November 2024 (1): a month
    # without snapshots (December) does not count
    assert kept_numbers(daily=1, weekly=3, monthly=4) == {10, 8, 6, 3, 1}


def test_with_the_default_counts_a_long_gap_keeps_the_last_days_that_have_one() -> None:
    """Backups that stopped for weeks: the last 8 days *that have one* reach back over the
    gap, so the newest snapshots are never all deleted."""
    before = [at(f"2025-05-{d:02d}") for d in range(1, 21)]  # 1..20 May
    after = [at("2025-07-01")]  # then nothing until 1 July
    kept = keep(before + after)
    days = {at("2025-07-01"), *(at(f"2025-05-{d:02d}") for d in range(14, 21))}
    # weeks: W27 (1 Jul), W21 (19..20 May: the 20th), W20 (12..18: the 18th),
    # W19 (5..11: the 11th), W18 (1..4 May: the 4th); months: July, May (the 20th)
    weeks = {at("2025-05-18"), at("2025-05-11"), at("2025-05-04")}
    assert kept == days | weeks


def test_iso_weeks_span_the_new_year() -> None:
    # Monday 30 Dec 2024 and Thursday 2 Jan 2025 are both in ISO week 2025-W01.
    monday, thursday = at("2024-12-30"), at("2025-01-02")
    assert keep([monday, thursday], daily=0, weekly=1, monthly=0) == {thursday}
    assert keep([monday, thursday], daily=0, weekly=0, monthly=2) == {monday, thursday}


def test_times_in_another_zone_count_in_utc() -> None:
    paris = dt.timezone(dt.timedelta(hours=1))
    # 00:30 in Paris on the 2nd is 23:30 UTC on the 1st: the same UTC day as 22:00 UTC.
    early = dt.datetime(2025, 1, 2, 0, 30, tzinfo=paris)
    assert keep([at("2025-01-01", 22), early], daily=1, weekly=0, monthly=0) == {early}


def test_nothing_to_rotate() -> None:
    assert keep([]) == set()
