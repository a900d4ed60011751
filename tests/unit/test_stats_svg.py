"""The requests-per-day chart is server-rendered SVG (DESIGN 7: no JavaScript).

Rules: the output is well-formed XML in the SVG namespace, with no script; one bar
per day; bar heights proportional to the values (the largest fills the plot, zero
is flat); every text (the title, the day labels) is escaped.
"""

from __future__ import annotations

import datetime as dt
import xml.etree.ElementTree as ET

import pytest

from davdrive.stats_svg import PLOT_HEIGHT, stats_svg

SVG = "{http://www.w3.org/2000/svg}"
DAYS = [dt.date(2026, 3, 1) + dt.timedelta(days=i) for i in range(5)]


def _bars(svg: str) -> list[ET.Element]:
    root = ET.fromstring(svg)
    assert root.tag == f"{SVG}svg"
    return [r for r in root.iter(f"{SVG}rect") if r.get("class") == "bar"]


def test_one_bar_per_day_with_heights_proportional_to_the_values() -> None:
    values = [0, 5, 10, 20, 15]
    bars = _bars(stats_svg(DAYS, values, "Requests per day"))
    assert len(bars) == len(DAYS)
    heights = [float(b.get("height", "nan")) for b in bars]
    assert heights[3] == pytest.approx(PLOT_HEIGHT), "the largest value fills the plot"
    for value, height in zip(values, heights, strict=True):
        assert height == pytest.approx(PLOT_HEIGHT * value / 20, abs=0.01)
    bottoms = {round(float(b.get("y", "nan")) + float(b.get("height", "nan")), 2) for b in bars}
    assert len(bottoms) == 1, "every bar stands on the same axis"
    xs = [float(b.get("x", "nan")) for b in bars]
    assert xs == sorted(xs), "days left to right"


def test_each_bar_says_its_day_and_value() -> None:
    bars = _bars(stats_svg(DAYS, [1, 2, 3, 4, 5], "t"))
    titles = [b.findtext(f"{SVG}title") for b in bars]
    assert titles == [f"{d.isoformat()}: {v}" for d, v in zip(DAYS, [1, 2, 3, 4, 5], strict=True)]


def test_all_zeros_and_no_days_draw_flat_or_empty_charts() -> None:
    assert all(float(b.get("height", "nan")) == 0 for b in _bars(stats_svg(DAYS, [0] * 5, "t")))
    assert _bars(stats_svg([], [], "nothing")) == []


def test_every_text_is_escaped_and_there_is_no_script() -> None:
    title = "<script>alert('x')</script> & \"bob\""
    svg = stats_svg(DAYS, [1] * 5, title)
    root = ET.fromstring(svg)
    assert root.findtext(f"{SVG}title") == title
    assert root.get("aria-label") == title
    assert list(root.iter(f"{SVG}script")) == [] and "<script>" not in svg


def test_mismatched_or_negative_values_are_refused() -> None:
    with pytest.raises(ValueError):
        stats_svg(DAYS, [1, 2], "t")
    with pytest.raises(ValueError):
        stats_svg(DAYS, [1, 2, -3, 4, 5], "t")
