"""Login hours (DESIGN 2, rule 3.1): weekly windows in server local time."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given
from hypothesis import strategies as st

from davdrive.hours import DAYS, LoginHours, Window, normalize_hours, parse_hours

# 2025-01-06 is a Monday.
MONDAY = dt.date(2025, 1, 6)


def at(day_offset: int, hour: int, minute: int = 0) -> dt.datetime:
    return dt.datetime.combine(MONDAY + dt.timedelta(days=day_offset), dt.time(hour, minute))


def test_empty_spec_always_allows_sign_in() -> None:
    hours = parse_hours("")
    assert hours.always
    assert hours.allows(at(6, 3))
    assert parse_hours("  ;  ").always


def test_office_hours_allow_inside_and_refuse_outside() -> None:
    hours = parse_hours("mon-fri 08:00-19:00")
    assert hours.allows(at(0, 8, 0)), "the start of a window is inside"
    assert hours.allows(at(4, 18, 59)), "friday 18:59 is inside"
    assert not hours.allows(at(0, 19, 0)), "the end of a window is outside"
    assert not hours.allows(at(2, 7, 59))
    assert not hours.allows(at(5, 10, 0)), "saturday is not in mon-fri"


def test_several_windows_separated_by_semicolons() -> None:
    hours = parse_hours("mon,wed 09:00-12:00; sat 10:00-16:00")
    assert hours.allows(at(0, 9)) and hours.allows(at(2, 11, 59)) and hours.allows(at(5, 15))
    assert not hours.allows(at(1, 10)), "tuesday is not listed"
    assert not hours.allows(at(5, 9, 59))


def test_several_ranges_for_the_same_days() -> None:
    hours = parse_hours("mon-fri 08:00-12:00,14:00-18:00")
    assert hours.allows(at(1, 9)) and hours.allows(at(1, 15))
    assert not hours.allows(at(1, 13))


def test_day_range_may_wrap_around_the_week() -> None:
    hours = parse_hours("fri-mon 10:00-11:00")
    allowed = [d for d in range(7) if hours.allows(at(d, 10, 30))]
    assert allowed == [0, 4, 5, 6]


def test_time_without_days_means_every_day_and_24_00_ends_the_day() -> None:
    hours = parse_hours("20:00-24:00")
    assert all(hours.allows(at(d, 23, 59)) for d in range(7))
    assert not hours.allows(at(3, 19, 59))


def test_aware_moment_is_read_in_its_own_local_time() -> None:
    hours = parse_hours("mon 08:00-09:00")
    paris = dt.timezone(dt.timedelta(hours=1))
    assert hours.allows(at(0, 8, 30).replace(tzinfo=paris))


def test_spelling_is_forgiving_but_format_is_canonical() -> None:
    assert normalize_hours("Mon - Fri 8:00-19:00") == "mon-fri 08:00-19:00"
    assert normalize_hours("Monday,Wed 9:00-12:00") == "mon,wed 09:00-12:00"
    assert normalize_hours("sat 10:00-16:00; mon,wed 09:00-12:00") == (
        "mon,wed 09:00-12:00; sat 10:00-16:00"
    )
    assert normalize_hours("mon,tue,wed,thu,fri 08:00-19:00") == "mon-fri 08:00-19:00"
    assert normalize_hours("mon, wed  09:00-12:00") == "mon,wed 09:00-12:00"
    assert str(parse_hours("")) == "always"


@pytest.mark.parametrize(
    ("spec", "words"),
    [
        ("mon-fri 19:00-08:00", "must end after it starts"),
        ("mon 10:00-10:00", "must end after it starts"),
        ("mnday 08:00-10:00", "unknown day 'mnday'"),
        ("mon 25:00-26:00", "not a valid time"),
        ("mon 08:60-09:00", "not a valid time"),
        ("mon 8h-9h", "not a time"),
        ("mon 08:00", "not a time range"),
        ("mon-fri", "has no time range"),
        ("mon 24:00-24:00", "cannot start at 24:00"),
        ("mon,,tue 08:00-09:00", "empty day"),
    ],
)
def test_invalid_specs_raise_a_clear_value_error(spec: str, words: str) -> None:
    with pytest.raises(ValueError, match="login hours") as caught:
        parse_hours(spec)
    assert words in str(caught.value), str(caught.value)


windows = st.builds(
    lambda days, a, b: Window(frozenset(days), min(a, b), max(a, b)),
    st.sets(st.integers(0, 6), min_size=1),
    st.integers(0, 24 * 60 - 1),
    st.integers(1, 24 * 60),
).filter(lambda w: w.end > w.start)


@given(st.lists(windows, max_size=5))
def test_format_then_parse_gives_the_same_schedule(items: list[Window]) -> None:
    text = "; ".join(w.format() for w in items)
    parsed = parse_hours(text)
    assert parse_hours(parsed.format()) == parsed
    assert set(parsed.windows) == set(items)


@given(st.lists(windows, min_size=1, max_size=4), st.integers(0, 6), st.integers(0, 1439))
def test_allows_matches_the_definition(items: list[Window], day: int, minute: int) -> None:
    hours = LoginHours(tuple(items))
    moment = at(day, minute // 60, minute % 60)
    expected = any(day in w.days and w.start <= minute < w.end for w in items)
    assert hours.allows(moment) == expected


def test_day_names_are_the_english_abbreviations() -> None:
    assert DAYS == ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
