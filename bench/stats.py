"""Small statistics for the figures: percentiles, rates, and the cost of one node boundary."""

from __future__ import annotations

import math
from collections.abc import Sequence


def percentile(values: Sequence[float], q: float) -> float:
    """The q-th percentile (0-100) by linear interpolation between closest ranks (numpy's
    default). Raises ValueError on no values or q outside 0-100."""
    if not values:
        raise ValueError("percentile of no values")
    if not 0 <= q <= 100:
        raise ValueError(f"percentile {q} is outside 0-100")
    ordered = sorted(values)
    position = (len(ordered) - 1) * q / 100
    low = math.floor(position)
    high = math.ceil(position)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def rate(count: int, seconds: float) -> float:
    """Events per second; NaN when no time passed (a figure too small to measure)."""
    return count / seconds if seconds > 0 else math.nan


def per_boundary_ms(rate_short: float, rate_long: float, extra_boundaries: int) -> float:
    """Milliseconds each extra node boundary adds to a task, from the throughput of a short and
    a long graph run the same way: (1/rate_long - 1/rate_short) / extra_boundaries."""
    if extra_boundaries <= 0:
        raise ValueError("the long graph must have more node boundaries than the short one")
    return (1 / rate_long - 1 / rate_short) / extra_boundaries * 1000
