"""Small, exact statistics over lists of numbers (no sampling: every value counts)."""

from __future__ import annotations

import math
from collections.abc import Sequence


def percentile(values: Sequence[float], q: float) -> float:
    """The q-th percentile (0-100) by the nearest-rank method; NaN for no values."""
    if not values:
        return math.nan
    ordered = sorted(values)
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return ordered[rank - 1]


def max_in_window(times: Sequence[float], window: float = 1.0) -> int:
    """The most events in any `window`-second interval [t, t + window), over sorted `times`."""
    best = 0
    start = 0
    for end, stamp in enumerate(times):
        while stamp - times[start] >= window:
            start += 1
        best = max(best, end - start + 1)
    return best


def rate(count: int, first: float, last: float) -> float:
    """Events per second between the first and the last event."""
    span = last - first
    return count / span if span > 0 else math.nan
