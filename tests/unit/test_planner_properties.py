"""Properties of the planner over every IANA zone and anchors from 1990 to 2060.

Anchors are drawn half of the time within days of one of the zone's UTC-offset changes, so the
spring-forward gaps and fall-back repeats that uniform dates would almost never reach are common.
"""

from __future__ import annotations

import calendar
from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, time, timedelta
from functools import cache
from random import Random
from typing import Any
from zoneinfo import ZoneInfo, available_timezones

from hypothesis import given, settings
from hypothesis import strategies as st

from engage.planning.localtime import next_allowed, resolve_local
from engage.planning.planner import (
    LATE_EVENT_PASSED,
    LATE_NO_TIME_BEFORE,
    LATE_SKIP,
    AnchorEvent,
    PlannedMessage,
    Recipient,
    due_time,
    plan,
)
from engage.schedule.models import Condition, QuietHours, Sequence, Step
from engage.schedule.offsets import Offset

ZONES = sorted(available_timezones())
LONG_AGO = datetime(1980, 1, 1, tzinfo=UTC)
NEVER_QUIET = QuietHours(start=time(0, 0), end=time(0, 0))
ANCHOR_NAMES = ("enrolled", "infusion.start")
LATE = (LATE_SKIP, LATE_EVENT_PASSED)  # kept at their computed time, never sent
PROPERTY = settings(max_examples=200, deadline=None)


@cache
def zone_named(name: str) -> ZoneInfo:
    return ZoneInfo(name)


@cache
def transitions(zone: ZoneInfo, year: int) -> tuple[datetime, ...]:
    """Instants (UTC, whole seconds) in `year` at which `zone` changes its UTC offset."""

    def offset(second: int) -> timedelta | None:
        return datetime.fromtimestamp(second, zone).utcoffset()

    found = []
    day = int(datetime(year, 1, 1, tzinfo=UTC).timestamp())
    end = int(datetime(year + 1, 1, 1, tzinfo=UTC).timestamp())
    for low in range(day, end, 86400):
        high = low + 86400
        if offset(low) != offset(high):
            while high - low > 1:
                middle = (low + high) // 2
                low, high = (middle, high) if offset(middle) == offset(low) else (low, middle)
            found.append(datetime.fromtimestamp(high, UTC))
    return tuple(found)


# Oracles, written independently of engage.planning.localtime.


def wall(instant: datetime, zone: ZoneInfo) -> datetime:
    return instant.astimezone(UTC).astimezone(zone).replace(tzinfo=None)


def wall_exists(naive: datetime, zone: ZoneInfo) -> bool:
    return wall(naive.replace(tzinfo=zone), zone) == naive


def first_pass(naive: datetime, zone: ZoneInfo) -> datetime:
    return min(naive.replace(tzinfo=zone, fold=fold).astimezone(UTC) for fold in (0, 1))


def shift_calendar(naive: datetime, months: int, days: int) -> datetime:
    year, month = divmod(naive.month - 1 + months, 12)
    year, month = naive.year + year, month + 1
    moved = naive.replace(
        year=year, month=month, day=min(naive.day, calendar.monthrange(year, month)[1])
    )
    return moved + timedelta(days=days)


def is_calendar(offset: Offset) -> bool:
    return bool(offset.months or offset.days) and not offset.minutes


def is_elapsed(offset: Offset) -> bool:
    return not (offset.months or offset.days)


# Scenarios


@dataclass(frozen=True)
class Scenario:
    zone: ZoneInfo
    sequence: Sequence
    recipient: Recipient
    events: tuple[AnchorEvent, ...]
    quiet: QuietHours
    now: datetime

    def plan(
        self,
        *,
        quiet: QuietHours | None = None,
        now: datetime | None = None,
        events: Iterable[AnchorEvent] | None = None,
    ) -> list[PlannedMessage]:
        return plan(
            self.sequence,
            self.recipient,
            self.events if events is None else events,
            quiet or self.quiet,
            now or self.now,
        )

    def event(self, message: PlannedMessage) -> AnchorEvent:
        [event] = [e for e in self.events if e.key == message.event_key]
        return event

    def step(self, message: PlannedMessage) -> Step:
        return self.sequence.steps[message.step_index]


def clock(minute_of_day: int) -> time:
    return time(minute_of_day // 60, minute_of_day % 60)


# Strategies are built once, here: building them inside a draw costs more than the planning.
offsets = st.one_of(
    st.builds(Offset, months=st.integers(-3, 12) | st.just(0), days=st.integers(-5, 5)),
    st.builds(Offset, minutes=st.integers(-3 * 1440, 3 * 1440)),
    st.builds(
        Offset, months=st.integers(-2, 2), days=st.integers(-3, 3), minutes=st.integers(-600, 600)
    ),
)
conditions = st.builds(
    Condition, occurrence=st.sampled_from(["every", "first", "later"]) | st.integers(1, 3)
)
clock_times = st.integers(0, 1439).map(clock)
# A send time: none, near the zone's offset change (as minutes from it; 1-60 falls in most
# spring-forward gaps), or any time of day.
send_times = st.none() | st.integers(-180, 180) | st.integers(1, 60) | clock_times
step_fields = st.fixed_dictionaries(
    {
        "anchor": st.sampled_from(ANCHOR_NAMES),
        "offset": offsets,
        "at": send_times,
        "channels": st.sampled_from([("sms",), ("email",), ("sms", "email"), ("email", "sms")]),
        "critical": st.booleans(),
        "when": conditions,
        "if_late": st.sampled_from(["send", "skip"]),
    }
)
event_fields = st.tuples(
    st.sampled_from(ANCHOR_NAMES),
    st.none() | st.integers(0, 5),  # the step to aim at the pivot, if any
    st.integers(-4 * 1440 - 240, 4 * 1440 + 240),  # minutes from the pivot, if not aimed
    st.integers(-60, 59) | st.integers(-180, 180),  # from the aim; -60..59 is where DST bites
    st.sampled_from(ZONES).map(zone_named),  # events arrive in any zone
)
pivots = st.integers(0, 71 * 365 * 1440).map(
    lambda m: datetime(1990, 1, 1, tzinfo=UTC) + timedelta(minutes=m)
)
quiet_hours = st.just(QuietHours()) | st.builds(QuietHours, start=clock_times, end=clock_times)
consents = st.sampled_from([(), ("sms",), ("email",), ("sms", "email"), ("email", "sms")])


def make_step(index: int, fields: dict[str, Any], near: time) -> Step:
    at = fields["at"]
    if isinstance(at, int):
        at = clock((near.hour * 60 + near.minute + at) % 1440)
    return Step(id=f"s{index}", template=f"t/{index}", **{**fields, "at": at})


@st.composite
def scenarios(draw: st.DrawFn) -> Scenario:
    """Events within days of a pivot instant, which is often one of the zone's offset changes."""
    for _ in range(3):  # most zones keep one offset all year: prefer one that changes
        zone = draw(st.sampled_from(ZONES).map(zone_named))
        changes = transitions(zone, draw(st.integers(1991, 2059)))
        if changes:
            break
    near_a_change = bool(changes) and draw(st.booleans())
    pivot = draw(st.sampled_from(changes) if near_a_change else pivots)
    near = wall(pivot - timedelta(seconds=1), zone).time()
    fields = draw(st.lists(step_fields, min_size=1, max_size=6))
    sequence = Sequence(
        name="prop", steps=tuple(make_step(i, f, near) for i, f in enumerate(fields))
    )
    events = []
    counts = dict.fromkeys(ANCHOR_NAMES, 0)
    drawn = draw(st.lists(event_fields, min_size=1, max_size=4))
    for key, (name, aim, minutes, jitter, seen_from) in enumerate(drawn):
        start = pivot
        if aim is not None:
            aimed = sequence.steps[aim % len(sequence.steps)]
            name, start, minutes = aimed.anchor, aimed_at(pivot, zone, aimed.offset), jitter
        counts[name] += 1
        at = (start + timedelta(minutes=minutes)).astimezone(seen_from)
        events.append(AnchorEvent(name, at, key=f"event:{key}", occurrence=counts[name]))
    late_by = draw(st.none() | st.integers(-10 * 1440, 10 * 1440))
    now = LONG_AGO if late_by is None else pivot + timedelta(minutes=late_by)
    recipient = Recipient(zone.key, draw(consents))
    return Scenario(zone, sequence, recipient, tuple(events), draw(quiet_hours), now)


def aimed_at(pivot: datetime, zone: ZoneInfo, offset: Offset) -> datetime:
    """Roughly when an event must happen for a step with this offset to fall on the pivot.

    The pivot is read on the wall clock just before it, so that when it is a spring-forward the
    step falls on the first minute of the gap, and a few minutes more fall inside it.
    """
    just_before = wall(pivot - timedelta(seconds=1), zone) + timedelta(seconds=1)
    back = shift_calendar(just_before, -offset.months, -offset.days)
    return back.replace(tzinfo=zone).astimezone(UTC) - timedelta(minutes=offset.minutes)


def computed(case: Scenario) -> dict[tuple[int, str], PlannedMessage]:
    """Messages at their computed due time: no quiet hours, nothing late, nothing kept before
    its event (the offset and send time alone)."""
    return {
        pair: replace(m, due_at=due_time(case.step(m), case.event(m).at, case.zone))
        for pair, m in by_pair(case.plan(quiet=NEVER_QUIET, now=LONG_AGO)).items()
    }


def reaches_its_event(case: Scenario, message: PlannedMessage, quiet: QuietHours) -> bool:
    """A reminder whose usual time (late: now; then quiet hours) is at or after its event."""
    step, event = case.step(message), case.event(message)
    if not step.offset.before:
        return False
    due = max(due_time(step, event.at, case.zone), case.now)
    if not step.critical:
        due = next_allowed(due, case.zone, quiet)
    return due >= event.at


def by_pair(messages: list[PlannedMessage]) -> dict[tuple[int, str], PlannedMessage]:
    return {(m.step_index, m.event_key): m for m in messages}


# Properties: each test draws its own scenarios and checks the properties of one concern; the
# checks are separate functions so a failure names the property that broke.


@PROPERTY
@given(scenarios(), st.randoms(use_true_random=False))
def test_the_plan_is_complete_sorted_utc_and_independent_of_the_order_of_events(
    case: Scenario, rnd: Random
) -> None:
    messages = case.plan()
    assert_nothing_is_dropped(case, messages)
    assert_due_times_are_utc_and_sorted(messages)
    shuffled = list(case.events)
    rnd.shuffle(shuffled)
    assert case.plan() == messages == case.plan(events=iter(shuffled))


@PROPERTY
@given(scenarios())
def test_due_times_follow_offsets_and_send_times_on_the_recipients_clock(case: Scenario) -> None:
    for message in computed(case).values():
        if case.step(message).at is None:
            assert_offset_is_calendar_on_the_wall_clock_or_elapsed(case, message)
        else:
            assert_send_time_lands_on_the_right_local_date(case, message)


@PROPERTY
@given(scenarios())
def test_quiet_hours_move_only_non_critical_messages_forward_out_of_the_window(
    case: Scenario,
) -> None:
    without_quiet = by_pair(case.plan(quiet=NEVER_QUIET))
    for pair, message in by_pair(case.plan()).items():
        due_anyway = without_quiet[pair].due_at
        if reaches_its_event(case, message, case.quiet) or reaches_its_event(
            case, message, NEVER_QUIET
        ):
            continue  # kept before its event: test_no_reminder_reaches_the_patient_after_its_event
        if message.critical or message.skip_reason in LATE:
            assert message.due_at == due_anyway  # never shifted
        else:
            assert not case.quiet.contains(wall(message.due_at, case.zone).time())
            assert due_anyway <= message.due_at <= due_anyway + timedelta(hours=26)


@PROPERTY
@given(scenarios())
def test_late_messages_are_due_now_or_kept_at_their_time_and_skipped(case: Scenario) -> None:
    at_computed_time = computed(case)
    for pair, message in by_pair(case.plan(quiet=NEVER_QUIET)).items():
        due, event_at = at_computed_time[pair].due_at, case.event(message).at
        before = case.step(message).offset.before
        if due >= case.now and before and due >= event_at:  # kept before its event
            latest = (event_at.astimezone(UTC) - timedelta(minutes=1)).replace(second=0)
            if latest >= case.now:
                assert message.due_at == latest
                assert message.skip_reason not in (*LATE, LATE_NO_TIME_BEFORE)
            else:
                assert message.skip_reason == LATE_NO_TIME_BEFORE
        elif due >= case.now:
            assert message.due_at == due
            assert message.skip_reason not in LATE
        elif case.step(message).if_late == "skip":
            assert (message.due_at, message.skip_reason) == (due, LATE_SKIP)
        elif before and event_at <= case.now:  # a reminder before an event that already happened
            assert (message.due_at, message.skip_reason) == (due, LATE_EVENT_PASSED)
        else:
            assert message.due_at == case.now
            assert message.skip_reason not in LATE


@PROPERTY
@given(scenarios())
def test_a_message_says_why_its_time_moved_exactly_when_it_did(case: Scenario) -> None:
    for message in case.plan():
        own = due_time(case.step(message), case.event(message).at, case.zone)
        if message.skip_reason is not None or message.due_at == own:
            assert message.moved is None
        else:
            assert message.moved is not None and message.moved.startswith("moved: ")


@PROPERTY
@given(scenarios())
def test_the_channel_is_the_preferred_consented_one_or_the_message_says_why_not(
    case: Scenario,
) -> None:
    for message in case.plan():
        step = case.step(message)
        allowed = [c for c in case.recipient.channels if c in step.channels]
        if allowed:
            assert message.channel == allowed[0]
        else:
            assert message.channel == step.channels[0]
            assert message.skip_reason in (*LATE, LATE_NO_TIME_BEFORE, _no_consent(step))


@PROPERTY
@given(scenarios())
def test_no_reminder_reaches_the_patient_after_its_event(case: Scenario) -> None:
    """Over every zone, DST days and event hours: a step before its event that is sent at all
    is due before the event starts, outside quiet hours unless critical; else it says why not."""
    for message in case.plan():
        step, event = case.step(message), case.event(message)
        if not step.offset.before:
            continue
        if message.skip_reason is None or not message.skip_reason.startswith("late"):
            if message.skip_reason is None:
                assert message.due_at < event.at
            if not step.critical and message.skip_reason is None:
                assert not case.quiet.contains(wall(message.due_at, case.zone).time())
        else:
            assert message.skip_reason in (*LATE, LATE_NO_TIME_BEFORE)


@PROPERTY
@given(scenarios())
def test_planning_keeps_the_order_of_steps_and_of_computed_times(case: Scenario) -> None:
    assert_steps_of_one_event_keep_the_order_of_their_offsets(case)
    assert_lateness_and_quiet_hours_keep_the_order_of_computed_times(case)


# The checks


def assert_nothing_is_dropped(case: Scenario, messages: list[PlannedMessage]) -> None:
    admitted = [
        (index, event.key)
        for index, step in enumerate(case.sequence.steps)
        for event in case.events
        if event.name == step.anchor and step.when.admits(event.occurrence)
    ]
    assert sorted((m.step_index, m.event_key) for m in messages) == sorted(admitted)


def assert_due_times_are_utc_and_sorted(messages: list[PlannedMessage]) -> None:
    assert all(m.due_at.tzinfo is UTC for m in messages)
    keys = [(m.due_at, m.step_index, m.occurrence) for m in messages]
    assert keys == sorted(keys)


def assert_send_time_lands_on_the_right_local_date(case: Scenario, message: PlannedMessage) -> None:
    zone, step, event = case.zone, case.step(message), case.event(message)
    assert step.at is not None
    offset = step.offset
    if is_calendar(offset):
        shifted = shift_calendar(wall(event.at, zone), offset.months, offset.days)
        reached = (
            shifted if wall_exists(shifted, zone) else wall(resolve_local(shifted, zone), zone)
        )
    elif is_elapsed(offset):
        reached = wall(event.at.astimezone(UTC) + timedelta(minutes=offset.minutes), zone)
    else:
        reached = wall(message.due_at, zone)  # mixed units: only the time of day is checked
    target = datetime.combine(reached.date(), step.at)
    shown = wall(message.due_at, zone)
    if wall_exists(target, zone):
        assert message.due_at == first_pass(target, zone)
    else:  # the first whole minute after the gap
        assert shown > target
        assert (shown.second, shown.microsecond) == (0, 0)
        assert wall(message.due_at - timedelta(minutes=1), zone) < target


def assert_offset_is_calendar_on_the_wall_clock_or_elapsed(
    case: Scenario, message: PlannedMessage
) -> None:
    zone, offset, event = case.zone, case.step(message).offset, case.event(message)
    if is_elapsed(offset):
        assert message.due_at == event.at.astimezone(UTC) + timedelta(minutes=offset.minutes)
    elif is_calendar(offset):
        shifted = shift_calendar(wall(event.at, zone), offset.months, offset.days)
        if wall_exists(shifted, zone):
            assert message.due_at == first_pass(shifted, zone)
        else:
            assert wall(message.due_at, zone) > shifted


def _no_consent(step: Step) -> str:
    why = f"no consented channel (step allows {', '.join(step.channels)})"
    return f"staff must call: {why}" if step.critical else why


def raw_order_key(case: Scenario, message: PlannedMessage) -> tuple[str, datetime] | None:
    """Where a step falls before resolving, when its offset is all calendar or all elapsed."""
    step, event, zone = case.step(message), case.event(message), case.zone
    offset = step.offset
    if is_calendar(offset):
        reached = shift_calendar(wall(event.at, zone), offset.months, offset.days)
        if step.at is not None:
            day = reached.date() if wall_exists(reached, zone) else _date_after_gap(reached, zone)
            reached = datetime.combine(day, step.at)
        return ("wall", reached)
    if is_elapsed(offset) and step.at is None:
        return ("elapsed", event.at.astimezone(UTC) + timedelta(minutes=offset.minutes))
    return None


def _date_after_gap(naive: datetime, zone: ZoneInfo) -> date:
    return wall(resolve_local(naive, zone), zone).date()


def assert_steps_of_one_event_keep_the_order_of_their_offsets(case: Scenario) -> None:
    messages = list(computed(case).values())
    for first in messages:
        for second in messages:
            if first.event_key != second.event_key:
                continue
            key_1, key_2 = raw_order_key(case, first), raw_order_key(case, second)
            if key_1 and key_2 and key_1[0] == key_2[0] and key_1[1] <= key_2[1]:
                assert first.due_at <= second.due_at


def assert_lateness_and_quiet_hours_keep_the_order_of_computed_times(case: Scenario) -> None:
    """Among messages to be sent and alike in criticality, planning keeps computed order."""
    at_computed_time = computed(case)
    final = by_pair(case.plan())
    to_send = [
        pair
        for pair, m in final.items()
        if m.skip_reason not in (*LATE, LATE_NO_TIME_BEFORE)
        and not reaches_its_event(case, m, case.quiet)
    ]
    for pair_1, pair_2 in ((p, q) for p in to_send for q in to_send):
        first, second = final[pair_1], final[pair_2]
        in_order = at_computed_time[pair_1].due_at <= at_computed_time[pair_2].due_at
        if first.critical == second.critical and in_order:
            assert first.due_at <= second.due_at
