"""The read and console benchmarks' p99 is a percentile, not the slowest call: of 100 calls it is
the 99th slowest (nearest rank, as bench.stats.percentile), which one pause cannot decide alone."""

from __future__ import annotations

from bench.reads import _pct


def test_p99_of_a_hundred_calls_is_not_their_maximum() -> None:
    calls = [float(n) for n in range(1, 101)]  # 1..100 ms, sorted
    assert _pct(calls, 0.99) == 99.0
    assert _pct(calls, 0.5) == 50.0
    assert _pct([float(n) for n in range(1, 301)], 0.99) == 297.0
