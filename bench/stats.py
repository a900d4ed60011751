"""Statistics of the benchmark: percentiles, the bad tail, and speed ratios.

Contracts:
- ``percentile`` interpolates linearly between closest ranks (numpy's default);
  it returns None for no values.
- A workload is measured either as a time (``better="lower"``, e.g. ms per
  PROPFIND) or as a rate (``better="higher"``, e.g. req/s, MB/s).
- ``tail`` is the bad end: p95 for times, p5 for rates.
- ``speed_ratio`` is >1 when the measured target is faster than the baseline,
  whichever way the unit points: baseline/value for times, value/baseline for rates.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

LOWER = "lower"
HIGHER = "higher"


def percentile(values: Sequence[float], p: float) -> float | None:
    """The ``p``-th percentile (0-100) of ``values``, or None when empty."""
    ordered = sorted(values)
    if not ordered:
        return None
    k = (len(ordered) - 1) * p / 100.0
    low, high = math.floor(k), math.ceil(k)
    return ordered[low] + (ordered[high] - ordered[low]) * (k - low)


def median(values: Sequence[float]) -> float | None:
    return percentile(values, 50)


def tail(values: Sequence[float], better: str) -> float | None:
    """The bad tail: p95 of times (lower is better), p5 of rates (higher is better)."""
    return percentile(values, 95 if better == LOWER else 5)


def speed_ratio(baseline: float | None, value: float | None, better: str) -> float | None:
    """How many times faster ``value`` is than ``baseline`` (None if either is missing or 0)."""
    if not baseline or not value:
        return None
    return baseline / value if better == LOWER else value / baseline


def summary(values: Sequence[float], better: str) -> dict[str, float | int | None]:
    """Median, tail, min, max and count of one workload's repetitions."""
    return {
        "n": len(values),
        "median": median(values),
        "tail": tail(values, better),
        "min": min(values) if values else None,
        "max": max(values) if values else None,
    }
