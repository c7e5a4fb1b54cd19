"""The sequence planner: which messages an enrollment needs, on which channel, due when (UTC).

Pure: (sequence, recipient, anchor events, quiet hours, now) in, a sorted list of planned messages
out; no database, no Celery, no clock. A message that must not be sent is still returned, with a
`skip_reason`, so the outbox records why instead of silently missing a step.

Due time of one (step, event) pair:
  1. read the event in the recipient's zone; add `offset.months` (day clamped) and `offset.days` to
     the wall clock and resolve it (gap -> first minute after, repeat -> first occurrence);
  2. add `offset.minutes` as elapsed time;
  3. with `step.at`, take that wall time on the local date reached so far;
  4. if that is before `now`: `if_late: skip` -> keep it, but skip it; `if_late: send` -> `now`,
     unless the step is a reminder (a negative offset) and its event has started (a reminder
     before an infusion that already happened helps no one): then keep it, but skip it. A step
     with a non-negative offset (the `+0m` welcome at `10:00`) is never "before its event", even
     when its send time falls earlier in the day than the enrollment;
  5. non-critical messages due in quiet hours wait for the window's end; critical ones never move;
  6. a reminder that would now be due at or after its event starts moves to the last allowed
     minute before it (before the quiet hours that reach the event, for a non-critical one), or,
     when that minute is already past, is kept but skipped: it never reaches the patient late.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from engage.errors import PlanningError
from engage.planning import reasons
from engage.planning.localtime import (
    add_months,
    last_allowed_before,
    next_allowed,
    resolve_local,
    to_local,
)
from engage.planning.reasons import no_consented_channel
from engage.schedule.models import QuietHours, Sequence, Step

LATE_SKIP = "late: due before enrollment (if_late: skip)"
LATE_EVENT_PASSED = "late: its event has already happened"
LATE_NO_TIME_BEFORE = "late: no allowed time left before its event (quiet hours)"


@dataclass(frozen=True)
class AnchorEvent:
    """Something that happened (or is booked) to a patient, that steps are timed from."""

    name: str  # "enrolled", "infusion.start", "infusion.end", "course.completed", ...
    at: datetime  # timezone-aware, any zone
    key: str = ""  # e.g. "appointment:42": tells occurrences of a repeating anchor apart
    occurrence: int = 1  # 1-based among events of the same name (first infusion = 1)


@dataclass(frozen=True)
class Recipient:
    """What the planner needs to know about the patient."""

    timezone: str  # IANA name
    channels: tuple[str, ...]  # consented channels, in the patient's order of preference


@dataclass(frozen=True)
class PlannedMessage:
    """One message the outbox should hold; `skip_reason` set means record it but do not send."""

    step_id: str
    step_index: int  # position of the step in the sequence
    anchor: str
    event_key: str
    occurrence: int
    channel: str
    template: str
    due_at: datetime  # aware, UTC
    critical: bool
    skip_reason: str | None = None
    moved: str | None = None  # why due_at is not the step's own time (sent late, quiet hours)


def plan(
    sequence: Sequence,
    recipient: Recipient,
    events: Iterable[AnchorEvent],
    quiet: QuietHours,
    now: datetime,
) -> list[PlannedMessage]:
    """Every message `sequence` needs for these events, sorted by (due_at, step_index, occurrence).

    One message per step and per event named by `step.anchor` whose occurrence `step.when`
    admits; steps whose anchor has no event yet plan nothing. Raises PlanningError for an unknown
    time zone or a naive datetime.
    """
    zone = _zone(recipient.timezone)
    events = tuple(events)
    for event in events:
        _require_aware(event.at, f"event {event.name!r} ({event.key or 'no key'})")
    _require_aware(now, "now")
    planned = [
        _plan_one(index, step, event, recipient, zone, quiet, now)
        for index, step in enumerate(sequence.steps)
        for event in events
        if event.name == step.anchor and step.when.admits(event.occurrence)
    ]
    # event_key only breaks ties between events of equal occurrence, so that the output does not
    # depend on the order the events were given in.
    return sorted(planned, key=lambda m: (m.due_at, m.step_index, m.occurrence, m.event_key))


def due_time(step: Step, event_at: datetime, zone: ZoneInfo) -> datetime:
    """When `step` falls for an event at `event_at`, in UTC, before lateness and quiet hours."""
    instant = event_at.astimezone(UTC)
    offset = step.offset
    try:
        if offset.months or offset.days:
            wall = add_months(to_local(instant, zone), offset.months) + timedelta(days=offset.days)
            instant = resolve_local(wall, zone)
        # Without calendar units the event instant is used as is: re-reading its wall clock would
        # lose which pass of a fall-back hour it happened in, and "+2h" must mean two hours.
        instant += timedelta(minutes=offset.minutes)
        if step.at is not None:
            instant = resolve_local(datetime.combine(to_local(instant, zone).date(), step.at), zone)
    except (OverflowError, ValueError):
        raise PlanningError(
            f"step {step.id!r}: offset {step.offset} from {event_at.isoformat()} "
            "leaves the supported calendar"
        ) from None
    return instant


def choose_channel(step: Step, consented: tuple[str, ...]) -> str | None:
    """The patient's most preferred consented channel that the step may use, if any."""
    for channel in consented:
        if channel in step.channels:
            return channel
    return None


def _plan_one(
    index: int,
    step: Step,
    event: AnchorEvent,
    recipient: Recipient,
    zone: ZoneInfo,
    quiet: QuietHours,
    now: datetime,
) -> PlannedMessage:
    due, skip_reason, moved = _timed(step, event.at, zone, quiet, now)
    channel = choose_channel(step, recipient.channels)
    if channel is None:
        channel = step.channels[0]
        skip_reason = skip_reason or no_consented_channel(step.channels, critical=step.critical)
    return PlannedMessage(
        step_id=step.id,
        step_index=index,
        anchor=step.anchor,
        event_key=event.key,
        occurrence=event.occurrence,
        channel=channel,
        template=step.template,
        due_at=due,
        critical=step.critical,
        skip_reason=skip_reason,
        moved=None if skip_reason else moved,
    )


def _timed(
    step: Step, event_at: datetime, zone: ZoneInfo, quiet: QuietHours, now: datetime
) -> tuple[datetime, str | None, str | None]:
    """(due time, skip reason, why it is not the step's own time): rules 4 to 6 above."""
    own = due_time(step, event_at, zone)
    due, skip_reason = _if_late(step, own, event_at, now)
    if skip_reason is not None:
        return due, skip_reason, None
    why = reasons.sent_late if due != own else None
    if not step.critical:
        allowed = next_allowed(due, zone, quiet)
        if allowed != due:
            why, due = why or reasons.out_of_quiet_hours, allowed
    if step.offset.before and due >= event_at:
        latest, skip_reason = _before_event(
            due, event_at, now, zone, None if step.critical else quiet
        )
        if skip_reason is not None:
            return due, skip_reason, None
        why, due = reasons.before_its_event, latest
    return due, None, why(_local(own, zone)) if why is not None and due != own else None


def _local(instant: datetime, zone: ZoneInfo) -> datetime:
    return instant.astimezone(zone)


def _if_late(
    step: Step, due: datetime, event_at: datetime, now: datetime
) -> tuple[datetime, str | None]:
    """The due time and skip reason of a step computed to fall at `due`, given `now`."""
    if due >= now:
        return due, None
    if step.if_late == "skip":
        return due, LATE_SKIP
    if step.offset.before and event_at <= now:
        # A reminder *before* an event that has already happened helps no one.
        return due, LATE_EVENT_PASSED
    return now.astimezone(UTC), None


def _before_event(
    due: datetime, event_at: datetime, now: datetime, zone: ZoneInfo, quiet: QuietHours | None
) -> tuple[datetime, str | None]:
    """A reminder that fell at or after its event: the last allowed minute before, or skipped."""
    latest = last_allowed_before(event_at, zone, quiet)
    if latest is None or latest < now:
        return due, LATE_NO_TIME_BEFORE
    return latest, None


def _zone(name: str) -> ZoneInfo:
    # A directory name such as "America" raises IsADirectoryError, an OSError.
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, TypeError, OSError):
        raise PlanningError(
            f"unknown time zone {name!r}: expected an IANA name such as America/New_York"
        ) from None


def _require_aware(moment: datetime, what: str) -> None:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise PlanningError(
            f"{what} at {moment.isoformat()} has no time zone: pass an aware datetime"
        )
