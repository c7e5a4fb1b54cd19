"""When the chaos tier stops waiting for a scenario to drain (plain unit tests, no stack)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from tests.chaos.test_chaos import drained

NOW = datetime(2027, 3, 1, 15, 0, tzinfo=UTC)


def test_a_retry_about_to_run_is_not_drained_though_every_message_was_tried() -> None:
    # The storm: each message refused once is on the wire; one waits a second for its retry.
    rows = {1: ("sent", NOW), 2: ("scheduled", NOW + timedelta(seconds=1))}
    assert not drained(rows, [1, 2], [1, 2], NOW)


def test_sent_rows_and_a_retry_far_off_are_drained() -> None:
    # A retry backing off for a minute is brought forward after the drain.
    rows = {1: ("sent", NOW), 2: ("scheduled", NOW + timedelta(seconds=60))}
    assert drained(rows, [1, 2], [1, 2], NOW)


def test_a_message_in_flight_or_never_tried_is_not_drained() -> None:
    assert not drained({1: ("sending", NOW)}, [1], [1], NOW)
    assert not drained({1: ("sent", NOW), 2: ("sent", NOW)}, [1, 2], [1], NOW)
