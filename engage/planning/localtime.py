"""Recipient-local wall-clock time: turning local times into UTC instants, and quiet hours.

Shared by the planner (due times) and the delivery code (re-checking quiet hours at send time), so
both agree on the two DST rules: a local time inside a spring-forward gap moves to the first valid
minute after the gap, and a local time repeated by a fall-back means its FIRST occurrence (fold=0),
so a message is sent once. Everything here is pure: values in, values out.
"""

from __future__ import annotations

import calendar
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

from engage.schedule.models import QuietHours

_MINUTE = timedelta(minutes=1)
# A quiet window is shorter than a day, so a few hops always reach an allowed minute; more than one
# hop only happens when a gap swallows the window's end (Pacific/Apia skipped 2011-12-30 entirely).
_MAX_QUIET_HOPS = 4


def to_local(instant: datetime, zone: ZoneInfo) -> datetime:
    """The naive wall-clock reading of an aware instant in `zone`."""
    # Via UTC: astimezone() to the instant's own tzinfo returns it untouched, so a wall time that
    # does not exist would otherwise read back as itself.
    return instant.astimezone(UTC).astimezone(zone).replace(tzinfo=None)


def exists(naive_local: datetime, zone: ZoneInfo) -> bool:
    """False when the wall-clock time falls in a spring-forward gap of `zone`."""
    return to_local(naive_local.replace(tzinfo=zone, fold=0), zone) == naive_local


def resolve_local(naive_local: datetime, zone: ZoneInfo) -> datetime:
    """The UTC instant a clock on the wall in `zone` shows `naive_local` (first one, if repeated).

    In a gap there is no such instant: the answer is the first whole minute after the gap (the
    transition itself, rounded up should one fall mid-minute). The result is monotone in
    `naive_local`, which keeps a sequence's steps in order across DST changes.
    """
    naive_local = naive_local.replace(tzinfo=None, fold=0)
    first = naive_local.replace(tzinfo=zone).astimezone(UTC)
    if to_local(first, zone) == naive_local:
        return first
    return _ceil_to_local_minute(_gap_end(naive_local, zone), zone)


def _gap_end(naive_local: datetime, zone: ZoneInfo) -> datetime:
    """The UTC instant at which the wall clock jumps over `naive_local`, to the second."""
    # fold=1 reads the wall time with the offset after the jump and fold=0 with the one before,
    # so the transition lies between the two readings: bisect for the first instant whose wall
    # clock has passed `naive_local`.
    low = naive_local.replace(tzinfo=zone, fold=1).astimezone(UTC)  # wall clock still before
    high = naive_local.replace(tzinfo=zone, fold=0).astimezone(UTC)  # wall clock already past
    if low > high:
        low, high = high, low
    while high - low > timedelta(seconds=1):
        middle = low + (high - low) / 2
        if to_local(middle, zone) >= naive_local:
            high = middle
        else:
            low = middle
    return high.replace(microsecond=0)


def _ceil_to_local_minute(instant: datetime, zone: ZoneInfo) -> datetime:
    wall = to_local(instant, zone)
    if wall.second or wall.microsecond:
        instant += _MINUTE - timedelta(seconds=wall.second, microseconds=wall.microsecond)
    return instant


def add_months(naive_local: datetime, months: int) -> datetime:
    """Calendar months on a wall-clock date, clamping the day (Jan 31 + 1 month = Feb 28/29)."""
    year, month0 = divmod(naive_local.month - 1 + months, 12)
    year += naive_local.year
    day = min(naive_local.day, calendar.monthrange(year, month0 + 1)[1])
    return naive_local.replace(year=year, month=month0 + 1, day=day)


def next_allowed(instant: datetime, zone: ZoneInfo, quiet: QuietHours) -> datetime:
    """`instant` in UTC if its local time is outside quiet hours, else the end of that window.

    The end is the local `quiet.end` of the right day (tomorrow for 22:00 under 21:00-08:00, today
    for 03:00), resolved like any wall time. Never earlier than `instant`.
    """
    moment = instant.astimezone(UTC)
    for _ in range(_MAX_QUIET_HOPS):
        wall = to_local(moment, zone)
        if not quiet.contains(wall.time()):
            return moment
        end_date = wall.date()
        if quiet.start > quiet.end and wall.time() >= quiet.start:
            end_date += timedelta(days=1)
        end_wall = datetime.combine(end_date, quiet.end)
        candidate = resolve_local(end_wall, zone)
        if candidate <= moment:
            # We sit in the second pass of a fall-back hour and the window ends later in that same
            # repeated hour: its first occurrence is already behind us, so take the second.
            candidate = end_wall.replace(tzinfo=zone, fold=1).astimezone(UTC)
        if candidate <= moment:  # no later end exists; a guard, not seen with real tzdata
            return moment
        moment = candidate
    return moment


def local_day(instant: datetime, zone: ZoneInfo) -> tuple[datetime, datetime]:
    """The local calendar day `instant` falls on, as a UTC [start, end) range.

    A day starts at its first midnight: where midnight repeats (Havana and the Azores turn their
    clocks back at 01:00), an instant in the second pass still belongs to the day that began at
    the first one. A midnight inside a gap starts at the first minute after it.
    """
    day = to_local(instant, zone).date()
    start = resolve_local(datetime.combine(day, time()), zone)
    end = resolve_local(datetime.combine(day + timedelta(days=1), time()), zone)
    return start, end


def last_allowed_before(
    limit: datetime, zone: ZoneInfo, quiet: QuietHours | None
) -> datetime | None:
    """The last whole minute before `limit` outside quiet hours (any minute, if `quiet` is None).

    Where a reminder goes when the usual time would reach its event: before the quiet hours that
    cover the event (20:59 the evening before a 07:00 infusion, under 21:00-08:00).
    """
    moment = (limit.astimezone(UTC) - _MINUTE).replace(second=0, microsecond=0)
    if quiet is None:
        return moment
    for _ in range(_MAX_QUIET_HOPS):
        wall = to_local(moment, zone)
        if not quiet.contains(wall.time()):
            return moment
        start_date = wall.date()
        if quiet.start > quiet.end and wall.time() < quiet.end:
            start_date -= timedelta(days=1)
        start = resolve_local(datetime.combine(start_date, quiet.start), zone)
        candidate = (start - _MINUTE).replace(second=0, microsecond=0)
        if candidate >= moment:  # a gap or repeat at the window's start; a guard
            candidate = moment - _MINUTE
        moment = candidate
    return None


class AmbiguousLocalTime(ValueError):
    """A wall time that a zone skips or repeats: reading it would be a guess (the message says
    which rule engage would apply, and how to say which instant is meant)."""


def exact_local(naive_local: datetime, zone: ZoneInfo) -> datetime:
    """The UTC instant of a wall time that occurs exactly once in `zone`, else AmbiguousLocalTime.

    For input from people (the API): the CLI reads the same times with `resolve_local`'s rule,
    which this error quotes, so a caller can see what the CLI would have done.
    """
    naive_local = naive_local.replace(tzinfo=None, fold=0)
    name = getattr(zone, "key", str(zone))
    if not exists(naive_local, zone):
        after = to_local(resolve_local(naive_local, zone), zone)
        raise AmbiguousLocalTime(
            f"{naive_local:%Y-%m-%dT%H:%M} does not exist in {name} (the clocks jump forward): "
            f"engage reads a skipped time as the first minute after the jump ({after:%H:%M}); "
            "send that time, or give a UTC offset"
        )
    first = naive_local.replace(tzinfo=zone, fold=0)
    second = naive_local.replace(tzinfo=zone, fold=1)
    if first.utcoffset() != second.utcoffset() and to_local(second, zone) == naive_local:
        raise AmbiguousLocalTime(
            f"{naive_local:%Y-%m-%dT%H:%M} happens twice in {name} (the clocks go back): engage "
            f"reads a repeated time as its first occurrence (UTC offset {_offset(first)}); give "
            f"the UTC offset ({_offset(first)} or {_offset(second)}) to say which"
        )
    return first.astimezone(UTC)


def _offset(moment: datetime) -> str:
    return moment.isoformat()[-6:]
