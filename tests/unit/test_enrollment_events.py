"""Anchor events from the edge: CLI times read in the patient's zone, infusions paired with ends."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy.dialects import postgresql, sqlite

from engage.enrollment.anchors import parse_event, split_events
from engage.enrollment.replan import appointment_id
from engage.errors import PlanningError
from engage.planning.planner import AnchorEvent
from engage.store.base import UTCDateTime
from tests.factories import SCHEDULE

HOUR = timedelta(hours=1)
T0 = datetime(2027, 3, 10, 14, 0, tzinfo=UTC)
# Real instants read in random zones (never a wall time skipped by a DST gap).
aware = st.builds(
    lambda moment, zone: moment.replace(tzinfo=UTC).astimezone(zone),
    st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1)),
    st.timezones(),
)


def test_a_naive_cli_time_is_the_patients_wall_clock() -> None:
    event = parse_event("infusion.start=2027-03-10T09:00", "America/New_York")
    assert event == AnchorEvent("infusion.start", T0)


def test_a_naive_time_in_the_spring_gap_moves_to_the_first_minute_after_it() -> None:
    event = parse_event("consultation=2027-03-14T02:30", "America/New_York")
    assert event.at == datetime(2027, 3, 14, 7, 0, tzinfo=UTC)  # 03:00 EDT


@given(aware)
def test_a_cli_time_with_an_offset_keeps_its_instant(moment: datetime) -> None:
    event = parse_event(f"enrolled={moment.isoformat()}", "Asia/Tokyo")
    assert event.at == moment


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("infusion.start", "expected NAME=ISO-TIME"),
        ("=2027-03-10T09:00", "expected NAME=ISO-TIME"),
        ("infusion.start=tomorrow", "'tomorrow' is not an ISO time"),
    ],
)
def test_bad_cli_events_name_what_is_wrong(text: str, problem: str) -> None:
    with pytest.raises(ValueError, match=problem):
        parse_event(text, "UTC")


def test_infusion_starts_are_paired_with_ends_in_order_else_last_the_clinic_length() -> None:
    events = [
        AnchorEvent("infusion.start", T0 + 48 * HOUR),
        AnchorEvent("infusion.start", T0),
        AnchorEvent("infusion.end", T0 + 2 * HOUR),
        AnchorEvent("enrolled", T0 - 48 * HOUR),
    ]
    single, appointments = split_events(SCHEDULE, events, timedelta(minutes=45))
    assert single == [AnchorEvent("enrolled", T0 - 48 * HOUR)]
    assert appointments == [
        (T0, T0 + 2 * HOUR),
        (T0 + 48 * HOUR, T0 + 48 * HOUR + timedelta(minutes=45)),
    ]


@pytest.mark.parametrize(
    ("events", "problem"),
    [
        ([AnchorEvent("infusion.end", T0)], "1 infusion.end events but only 0 infusion.start"),
        (
            [AnchorEvent("infusion.start", T0), AnchorEvent("infusion.end", T0 - HOUR)],
            "is not after infusion.start",
        ),
        ([AnchorEvent("consultation", T0)] * 2, "event 'consultation' given twice"),
        ([AnchorEvent("surgery", T0)], "unknown event 'surgery'"),
        ([AnchorEvent("enrolled", T0.replace(tzinfo=None))], "has no time zone"),
    ],
)
def test_inconsistent_events_are_refused(events: list[AnchorEvent], problem: str) -> None:
    with pytest.raises(PlanningError, match=problem):
        split_events(SCHEDULE, events, timedelta(minutes=45))


def test_event_keys_name_their_appointment() -> None:
    assert [appointment_id(k) for k in ("appointment:7", "", "appointment:x")] == [7, None, None]


@given(aware)
def test_stored_instants_round_trip_as_aware_utc_on_both_databases(moment: datetime) -> None:
    column = UTCDateTime()
    for dialect in (sqlite.dialect(), postgresql.dialect()):
        stored = column.process_bind_param(moment, dialect)
        back = column.process_result_value(stored, dialect)
        assert back == moment
        assert back is not None and back.tzinfo == UTC


def test_sqlite_stores_the_naive_utc_reading() -> None:
    moment = datetime(2027, 3, 10, 9, 0, tzinfo=timezone(timedelta(hours=-5)))
    assert UTCDateTime().process_bind_param(moment, sqlite.dialect()) == datetime(2027, 3, 10, 14)
