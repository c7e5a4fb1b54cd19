"""Reading providers' wait headers into seconds."""

from __future__ import annotations

import pytest

from engage.channels.retry_after import parse_reset_epoch, parse_retry_after

NOW = 1_767_225_600.0  # 2026-01-01T00:00:00Z


@pytest.mark.parametrize(
    ("header", "seconds"),
    [
        ("3", 3.0),
        (" 2.5 ", 2.5),
        ("-4", 0.0),
        ("Thu, 01 Jan 2026 00:00:30 GMT", 30.0),
        ("Wed, 31 Dec 2025 23:59:00 GMT", 0.0),
        ("", None),
        (None, None),
        ("soon", None),
    ],
)
def test_retry_after_reads_seconds_or_an_http_date(header, seconds):
    assert parse_retry_after(header, now=NOW) == seconds


@pytest.mark.parametrize(
    ("header", "seconds"),
    [(str(int(NOW) + 12), 12.0), (str(int(NOW) - 5), 0.0), ("x", None), (None, None)],
)
def test_rate_limit_reset_is_an_epoch_turned_into_seconds_from_now(header, seconds):
    assert parse_reset_epoch(header, now=NOW) == seconds
