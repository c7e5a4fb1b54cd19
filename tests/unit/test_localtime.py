"""Local wall-clock times become UTC instants the way a patient reading a clock would expect."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from functools import cache
from zoneinfo import ZoneInfo, available_timezones

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engage.planning.localtime import (
    add_months,
    exists,
    local_day,
    next_allowed,
    resolve_local,
    to_local,
)
from engage.schedule.models import QuietHours

NEW_YORK = ZoneInfo("America/New_York")
LONDON = ZoneInfo("Europe/London")
LORD_HOWE = ZoneInfo("Australia/Lord_Howe")
APIA = ZoneInfo("Pacific/Apia")
DEFAULT_QUIET = QuietHours()


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


def local(zone: ZoneInfo, year: int, month: int, day: int, hour: int, minute: int) -> datetime:
    """The UTC instant of a wall time known to exist exactly once."""
    return datetime(year, month, day, hour, minute, tzinfo=zone).astimezone(UTC)


@pytest.mark.parametrize(
    ("zone", "wall", "expected"),
    [
        # New York springs forward at 02:00 -> 03:00 EDT (07:00 UTC).
        (NEW_YORK, datetime(2024, 3, 10, 2, 30), utc(2024, 3, 10, 7, 0)),
        (NEW_YORK, datetime(2024, 3, 10, 2, 0), utc(2024, 3, 10, 7, 0)),
        (NEW_YORK, datetime(2024, 3, 10, 2, 59, 59), utc(2024, 3, 10, 7, 0)),
        # London springs forward at 01:00 GMT -> 02:00 BST (01:00 UTC).
        (LONDON, datetime(2024, 3, 31, 1, 30), utc(2024, 3, 31, 1, 0)),
        # Lord Howe springs forward by half an hour, 02:00 -> 02:30 (+11, 15:30 UTC the day before).
        (LORD_HOWE, datetime(2024, 10, 6, 2, 15), utc(2024, 10, 5, 15, 30)),
        # Samoa skipped 2011-12-30 altogether: its noon becomes midnight on the 31st.
        (APIA, datetime(2011, 12, 30, 12, 0), utc(2011, 12, 30, 10, 0)),
    ],
)
def test_a_wall_time_in_a_spring_forward_gap_moves_to_the_first_minute_after_it(
    zone: ZoneInfo, wall: datetime, expected: datetime
) -> None:
    assert not exists(wall, zone)
    assert resolve_local(wall, zone) == expected


@pytest.mark.parametrize(
    ("zone", "wall", "first_pass"),
    [
        (NEW_YORK, datetime(2024, 11, 3, 1, 30), utc(2024, 11, 3, 5, 30)),  # EDT, not EST
        (LONDON, datetime(2024, 10, 27, 1, 30), utc(2024, 10, 27, 0, 30)),  # BST, not GMT
        (LORD_HOWE, datetime(2024, 4, 7, 1, 45), utc(2024, 4, 6, 14, 45)),  # +11, not +10:30
    ],
)
def test_a_wall_time_repeated_by_a_fall_back_means_its_first_occurrence(
    zone: ZoneInfo, wall: datetime, first_pass: datetime
) -> None:
    assert exists(wall, zone)
    assert resolve_local(wall, zone) == first_pass
    assert resolve_local(wall.replace(fold=1), zone) == first_pass


def test_an_ordinary_wall_time_resolves_to_its_only_instant() -> None:
    assert resolve_local(datetime(2024, 7, 1, 9, 0), NEW_YORK) == utc(2024, 7, 1, 13, 0)
    assert resolve_local(datetime(2024, 1, 15, 9, 0), NEW_YORK) == utc(2024, 1, 15, 14, 0)


def test_the_resolved_instant_is_in_utc() -> None:
    assert resolve_local(datetime(2024, 7, 1, 9, 0), LORD_HOWE).tzinfo is UTC


@pytest.mark.parametrize(
    ("start", "months", "expected"),
    [
        (datetime(2024, 1, 31, 10, 0), 9, datetime(2024, 10, 31, 10, 0)),
        (datetime(2024, 1, 31, 10, 0), 1, datetime(2024, 2, 29, 10, 0)),
        (datetime(2023, 1, 31, 10, 0), 1, datetime(2023, 2, 28, 10, 0)),
        (datetime(2024, 2, 29, 10, 0), 12, datetime(2025, 2, 28, 10, 0)),
        (datetime(2024, 2, 29, 10, 0), 48, datetime(2028, 2, 29, 10, 0)),
        (datetime(2024, 3, 31, 10, 0), -1, datetime(2024, 2, 29, 10, 0)),
        (datetime(2024, 5, 15, 10, 0), -17, datetime(2022, 12, 15, 10, 0)),
        (datetime(2024, 11, 30, 10, 0), 2, datetime(2025, 1, 30, 10, 0)),
    ],
)
def test_calendar_months_keep_the_wall_time_and_clamp_the_day(
    start: datetime, months: int, expected: datetime
) -> None:
    assert add_months(start, months) == expected


@pytest.mark.parametrize(
    ("now", "allowed"),
    [
        (local(NEW_YORK, 2024, 7, 1, 22, 0), local(NEW_YORK, 2024, 7, 2, 8, 0)),
        (local(NEW_YORK, 2024, 7, 1, 21, 0), local(NEW_YORK, 2024, 7, 2, 8, 0)),
        (local(NEW_YORK, 2024, 7, 1, 0, 0), local(NEW_YORK, 2024, 7, 1, 8, 0)),
        (local(NEW_YORK, 2024, 7, 1, 7, 59), local(NEW_YORK, 2024, 7, 1, 8, 0)),
        (local(NEW_YORK, 2024, 12, 31, 23, 30), local(NEW_YORK, 2025, 1, 1, 8, 0)),
    ],
)
def test_a_time_inside_quiet_hours_that_wrap_midnight_waits_for_the_local_morning(
    now: datetime, allowed: datetime
) -> None:
    assert next_allowed(now, NEW_YORK, DEFAULT_QUIET) == allowed


@pytest.mark.parametrize("hour_minute", [(8, 0), (12, 0), (20, 59)])
def test_a_time_outside_quiet_hours_is_left_alone(hour_minute: tuple[int, int]) -> None:
    moment = local(NEW_YORK, 2024, 7, 1, *hour_minute)
    assert next_allowed(moment, NEW_YORK, DEFAULT_QUIET) == moment


def test_quiet_hours_within_one_day_end_the_same_day() -> None:
    siesta = QuietHours(start=time(13, 0), end=time(15, 30))
    moment = local(LONDON, 2024, 7, 1, 14, 0)
    assert next_allowed(moment, LONDON, siesta) == local(LONDON, 2024, 7, 1, 15, 30)


def test_empty_quiet_hours_never_move_anything() -> None:
    never = QuietHours(start=time(0, 0), end=time(0, 0))
    moment = local(LONDON, 2024, 7, 1, 3, 0)
    assert next_allowed(moment, LONDON, never) == moment


def test_quiet_hours_measured_in_the_recipients_zone_across_a_dst_night() -> None:
    # 22:00 EST the night before New York springs forward; 08:00 next morning is EDT.
    moment = local(NEW_YORK, 2024, 3, 9, 22, 0)
    assert next_allowed(moment, NEW_YORK, DEFAULT_QUIET) == utc(2024, 3, 10, 12, 0)


def test_a_quiet_window_ending_inside_a_gap_ends_at_the_first_minute_after_it() -> None:
    night = QuietHours(start=time(21, 0), end=time(2, 30))
    moment = local(NEW_YORK, 2024, 3, 10, 1, 0)
    assert next_allowed(moment, NEW_YORK, night) == utc(2024, 3, 10, 7, 0)  # 03:00 EDT


def test_in_the_second_pass_of_a_fall_back_hour_the_window_ends_at_its_second_pass() -> None:
    # 01:30 EST is the second 01:30 of the night; the window ends at 01:45 of that same pass.
    night = QuietHours(start=time(21, 0), end=time(1, 45))
    second_pass = utc(2024, 11, 3, 6, 30)
    assert to_local(second_pass, NEW_YORK) == datetime(2024, 11, 3, 1, 30)
    assert next_allowed(second_pass, NEW_YORK, night) == utc(2024, 11, 3, 6, 45)


def test_quiet_hours_whose_end_falls_in_a_skipped_day_end_on_the_next_real_morning() -> None:
    # 22:00 on 2011-12-29 in Samoa; 08:00 on the 30th never happened, 00:00 on the 31st is quiet.
    moment = local(APIA, 2011, 12, 29, 22, 0)
    assert next_allowed(moment, APIA, DEFAULT_QUIET) == local(APIA, 2011, 12, 31, 8, 0)


# Properties, over every zone the system knows.

ZONES = sorted(available_timezones())
walls = st.datetimes(min_value=datetime(1990, 1, 1), max_value=datetime(2060, 12, 31))


@cache
def zone_named(name: str) -> ZoneInfo:
    return ZoneInfo(name)


zones = st.sampled_from(ZONES).map(zone_named)


@cache
def transitions(zone: ZoneInfo, year: int) -> tuple[datetime, ...]:
    """Instants (UTC, to the second) in `year` at which `zone` changes its UTC offset."""
    found = []
    day = datetime(year, 1, 1, tzinfo=UTC)
    while day.year == year:
        low, high = day, day + timedelta(days=1)
        if low.astimezone(zone).utcoffset() != high.astimezone(zone).utcoffset():
            while high - low > timedelta(seconds=1):
                middle = low + (high - low) / 2
                same = middle.astimezone(zone).utcoffset() == low.astimezone(zone).utcoffset()
                low, high = (middle, high) if same else (low, middle)
            found.append(high)
        day += timedelta(days=1)
    return tuple(found)


@st.composite
def zone_and_wall(draw: st.DrawFn) -> tuple[ZoneInfo, datetime]:
    """A zone and a wall time, most often within three hours of one of its offset changes."""
    zone = draw(zones)
    year = draw(st.integers(1990, 2060))
    changes = transitions(zone, year)
    if not changes or draw(st.integers(0, 3)) == 0:
        return zone, draw(walls)
    change = draw(st.sampled_from(changes))
    wall_before = to_local(change - timedelta(seconds=1), zone) + timedelta(seconds=1)
    return zone, wall_before + draw(st.timedeltas(timedelta(hours=-3), timedelta(hours=3)))


@settings(max_examples=300, deadline=None)
@given(zone_and_wall())
def test_a_wall_time_resolves_to_itself_its_first_pass_or_the_first_minute_after_its_gap(
    zone_wall: tuple[ZoneInfo, datetime],
) -> None:
    zone, wall = zone_wall
    instant = resolve_local(wall, zone)
    assert instant.tzinfo is UTC
    if exists(wall, zone):
        assert to_local(instant, zone) == wall
        assert instant == min(
            wall.replace(tzinfo=zone, fold=0).astimezone(UTC),
            wall.replace(tzinfo=zone, fold=1).astimezone(UTC),
        )
    else:
        shown = to_local(instant, zone)
        assert shown > wall
        assert (shown.second, shown.microsecond) == (0, 0)
        assert to_local(instant - timedelta(minutes=1), zone) < wall


@settings(max_examples=300, deadline=None)
@given(zone_and_wall(), st.timedeltas(timedelta(0), timedelta(hours=4)))
def test_resolving_keeps_wall_times_in_order(
    zone_wall: tuple[ZoneInfo, datetime], step: timedelta
) -> None:
    zone, first = zone_wall
    assert resolve_local(first, zone) <= resolve_local(first + step, zone)


@settings(max_examples=300, deadline=None)
@given(zone_and_wall(), st.times(), st.times())
def test_the_next_allowed_moment_is_outside_quiet_hours_never_earlier_and_within_a_day(
    zone_wall: tuple[ZoneInfo, datetime], start: time, end: time
) -> None:
    zone, wall = zone_wall
    quiet = QuietHours(start=start.replace(second=0, microsecond=0), end=end.replace(second=0))
    moment = resolve_local(wall, zone)
    allowed = next_allowed(moment, zone, quiet)
    assert allowed.tzinfo is UTC
    assert not quiet.contains(to_local(allowed, zone).time())
    assert moment <= allowed <= moment + timedelta(hours=26)
    if allowed != moment:
        assert to_local(allowed, zone).time() >= quiet.end


def test_a_local_day_across_a_repeated_midnight_starts_at_the_first_midnight() -> None:
    # Havana turns its clocks back from 01:00 to 00:00 on 2026-11-01: midnight happens twice.
    havana = ZoneInfo("America/Havana")
    second_pass = datetime(2026, 11, 1, 5, 30, tzinfo=UTC)  # 00:30 CST, after the change
    assert second_pass.astimezone(havana).fold == 1
    start, end = local_day(second_pass, havana)
    assert start == datetime(2026, 11, 1, 4, 0, tzinfo=UTC)  # the first midnight (CDT)
    assert end == datetime(2026, 11, 2, 5, 0, tzinfo=UTC)
    azores = ZoneInfo("Atlantic/Azores")  # back from 01:00 to 00:00 on 2026-10-25
    start, _ = local_day(datetime(2026, 10, 25, 1, 30, tzinfo=UTC), azores)
    assert start == datetime(2026, 10, 25, 0, 0, tzinfo=UTC)
