"""A small bar chart as SVG text (requests per day), drawn on the server: no script.

``stats_svg(days, values, title)`` returns a standalone SVG document: the
title on top, one ``<rect class="bar">`` per day whose height is
proportional to its value (the highest value fills the plot's height; all
zeros draw zero-height bars), each with a ``<title>`` tooltip "day: value",
the highest value on the axis and the first and last days under the bars.
Every text is XML-escaped. ``sparkline_svg(days, values, label)`` draws the
same bars small (120 x 24), without axis or texts but the tooltips, for a
table row. Pure formatting: no I/O.
"""

from __future__ import annotations

import datetime as dt
from xml.sax.saxutils import escape, quoteattr

WIDTH = 640
HEIGHT = 220
PLOT_TOP = 32
PLOT_HEIGHT = 150
PLOT_LEFT = 48
PLOT_RIGHT = 8
GAP = 0.2  # part of each day's slot left empty between bars


def stats_svg(days: list[dt.date], values: list[int], title: str) -> str:
    """The chart of ``values`` (one per day of ``days``, same length, none negative)."""
    _check(days, values)
    top = max(values, default=0)
    bottom = PLOT_TOP + PLOT_HEIGHT
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{HEIGHT}" '
        f'viewBox="0 0 {WIDTH} {HEIGHT}" role="img" aria-label={quoteattr(title)}>',
        f"<title>{escape(title)}</title>",
        f'<text x="{PLOT_LEFT}" y="18" font-size="14">{escape(title)}</text>',
        f'<line x1="{PLOT_LEFT}" y1="{bottom}" x2="{WIDTH - PLOT_RIGHT}" y2="{bottom}" '
        'stroke="#555"/>',
        f'<text x="{PLOT_LEFT - 4}" y="{PLOT_TOP + 10}" font-size="11" '
        f'text-anchor="end">{top}</text>',
    ]
    parts.extend(_bars(days, values, PLOT_LEFT, WIDTH - PLOT_LEFT - PLOT_RIGHT, bottom,
                       PLOT_HEIGHT))
    if days:
        label_y = bottom + 16
        parts.append(f'<text x="{PLOT_LEFT}" y="{label_y}" font-size="11">'
                     f"{escape(days[0].isoformat())}</text>")
        parts.append(f'<text x="{WIDTH - PLOT_RIGHT}" y="{label_y}" font-size="11" '
                     f'text-anchor="end">{escape(days[-1].isoformat())}</text>')
    parts.append("</svg>")
    return "\n".join(parts)


def _check(days: list[dt.date], values: list[int]) -> None:
    if len(days) != len(values):
        raise ValueError("one value per day")
    if any(v < 0 for v in values):
        raise ValueError("values are counts: none is negative")


def _bars(days: list[dt.date], values: list[int], left: float, width: float, bottom: float,
          height: float) -> list[str]:
    """One ``<rect class="bar">`` per day in the box ``left``..``left + width`` whose
    base is at ``bottom``, the highest value ``height`` tall, each with its tooltip."""
    top = max(values, default=0)
    slot = width / max(len(days), 1)
    bars = []
    for i, (day, value) in enumerate(zip(days, values, strict=True)):
        tall = height * value / top if top else 0.0
        x = left + i * slot + slot * GAP / 2
        bars.append(
            f'<rect class="bar" x="{x:.2f}" y="{bottom - tall:.2f}" '
            f'width="{slot * (1 - GAP):.2f}" height="{tall:.2f}" fill="#3b6ea8">'
            f"<title>{escape(f'{day.isoformat()}: {value}')}</title></rect>"
        )
    return bars


SPARK_WIDTH = 120
SPARK_HEIGHT = 24


def sparkline_svg(days: list[dt.date], values: list[int], label: str) -> str:
    """A small bar chart of ``values`` (as ``stats_svg``), labelled ``label`` for
    screen readers; the highest value fills its height."""
    _check(days, values)
    return "".join([
        f'<svg xmlns="http://www.w3.org/2000/svg" class="spark" width="{SPARK_WIDTH}" '
        f'height="{SPARK_HEIGHT}" viewBox="0 0 {SPARK_WIDTH} {SPARK_HEIGHT}" role="img" '
        f"aria-label={quoteattr(label)}>",
        *_bars(days, values, 0, SPARK_WIDTH, SPARK_HEIGHT, SPARK_HEIGHT),
        "</svg>",
    ])
