"""Operator values: look-back windows as typed, percentiles, and the status JSON shape."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from engage.errors import InvalidInput
from engage.ops.since import parse_since, parse_window
from engage.ops.status import percentile

NOW = datetime(2027, 3, 10, 16, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("90s", timedelta(seconds=90)),
        ("30m", timedelta(minutes=30)),
        ("24h", timedelta(hours=24)),
        ("7d", timedelta(days=7)),
        ("2w", timedelta(weeks=2)),
        ("1.5h", timedelta(minutes=90)),
    ],
)
def test_window_reads_a_number_and_a_unit(text: str, expected: timedelta) -> None:
    assert parse_window(text) == expected


def test_since_a_duration_counts_back_from_now() -> None:
    assert parse_since("24h", NOW) == NOW - timedelta(hours=24)


def test_since_a_naive_iso_time_is_utc() -> None:
    assert parse_since("2027-03-10T08:00", NOW) == datetime(2027, 3, 10, 8, 0, tzinfo=UTC)


def test_since_keeps_an_explicit_offset() -> None:
    assert parse_since("2027-03-10T08:00-05:00", NOW) == datetime(2027, 3, 10, 13, 0, tzinfo=UTC)


def test_unreadable_since_names_the_flag_and_the_value() -> None:
    with pytest.raises(InvalidInput, match=r"--since: 'yesterday': expected a duration"):
        parse_since("yesterday", NOW, "--since")


def test_percentile_of_nothing_is_none() -> None:
    assert percentile([], 50) is None


def test_percentiles_use_the_nearest_rank() -> None:
    values = [float(n) for n in range(1, 101)]
    assert (percentile(values, 50), percentile(values, 99), percentile(values, 100)) == (
        50,
        99,
        100,
    )


@given(st.lists(st.floats(min_value=0, max_value=1e6), min_size=1), st.floats(1, 100))
def test_a_percentile_is_one_of_the_values_and_grows_with_q(values: list[float], q: float) -> None:
    p = percentile(values, q)
    assert p in values
    assert percentile(values, 1) <= p <= percentile(values, 100) == max(values)


def test_a_window_too_long_ago_is_refused_not_an_overflow() -> None:
    with pytest.raises(InvalidInput, match="too long ago"):
        parse_since("99999999999d", NOW)
    with pytest.raises(InvalidInput, match="too long ago"):
        parse_since("9999999w", NOW)
