"""The planner turns a sequence and a patient's events into messages due at the right local time."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from engage.errors import PlanningError
from engage.planning.planner import (
    LATE_EVENT_PASSED,
    LATE_NO_TIME_BEFORE,
    LATE_SKIP,
    AnchorEvent,
    PlannedMessage,
    Recipient,
    plan,
)
from engage.schedule.models import Condition, QuietHours, Sequence, Step

NEW_YORK = ZoneInfo("America/New_York")
LONDON = ZoneInfo("Europe/London")
LORD_HOWE = ZoneInfo("Australia/Lord_Howe")
LONG_AGO = datetime(2000, 1, 1, tzinfo=UTC)
QUIET = QuietHours()  # 21:00-08:00


def step(step_id: str = "s", anchor: str = "infusion.start", **fields: Any) -> Step:
    return Step(id=step_id, anchor=anchor, template=f"t/{step_id}", **fields)


def sequence(*steps: Step) -> Sequence:
    return Sequence(name="test", steps=steps)


def patient(
    zone: str = "America/New_York", channels: tuple[str, ...] = ("sms", "email")
) -> Recipient:
    return Recipient(timezone=zone, channels=channels)


def at(zone: ZoneInfo, year: int, month: int, day: int, hour: int, minute: int = 0) -> datetime:
    """An aware datetime for a wall time that exists exactly once in `zone`."""
    return datetime(year, month, day, hour, minute, tzinfo=zone)


def infusion(when: datetime, n: int = 1) -> AnchorEvent:
    return AnchorEvent("infusion.start", when, key=f"appointment:{n}", occurrence=n)


def plan_one(
    the_step: Step,
    event_at: datetime,
    *,
    recipient: Recipient | None = None,
    now: datetime = LONG_AGO,
    quiet: QuietHours = QUIET,
) -> PlannedMessage:
    [message] = plan(sequence(the_step), recipient or patient(), [infusion(event_at)], quiet, now)
    return message


def local(message: PlannedMessage, zone: ZoneInfo) -> datetime:
    return message.due_at.astimezone(zone).replace(tzinfo=None)


# Which messages


def test_each_step_gets_one_message_per_event_of_its_anchor() -> None:
    steps = sequence(
        step("welcome", "enrolled", offset="+0m", critical=True),
        step("prep", "infusion.start", offset="-1d", at="12:00"),
    )
    events = [
        AnchorEvent("enrolled", at(NEW_YORK, 2024, 6, 1, 12)),
        infusion(at(NEW_YORK, 2024, 6, 10, 10), 1),
        infusion(at(NEW_YORK, 2024, 6, 17, 10), 2),
    ]
    messages = plan(steps, patient(), events, QUIET, LONG_AGO)
    assert [(m.step_id, m.event_key, m.occurrence) for m in messages] == [
        ("welcome", "", 1),
        ("prep", "appointment:1", 1),
        ("prep", "appointment:2", 2),
    ]


def test_events_no_step_uses_are_ignored_and_steps_without_an_event_plan_nothing() -> None:
    steps = sequence(step("booster", "course.completed", offset="+9mo", at="12:00"))
    events = [infusion(at(NEW_YORK, 2024, 6, 10, 10))]
    assert plan(steps, patient(), events, QUIET, LONG_AGO) == []


@pytest.mark.parametrize(
    ("condition", "planned_occurrences"),
    [("first", [1]), ("later", [2, 3]), ("every", [1, 2, 3]), (2, [2]), (4, [])],
)
def test_an_occurrence_condition_picks_which_infusions_get_the_step(
    condition: str | int, planned_occurrences: list[int]
) -> None:
    steps = sequence(step(when=Condition(occurrence=condition), critical=True))
    events = [infusion(at(NEW_YORK, 2024, 6, 3 + 7 * n, 10), n) for n in (1, 2, 3)]
    messages = plan(steps, patient(), events, QUIET, LONG_AGO)
    assert [m.occurrence for m in messages] == planned_occurrences
    assert [m.event_key for m in messages] == [f"appointment:{n}" for n in planned_occurrences]


def test_a_message_carries_the_step_and_the_event_it_was_planned_from() -> None:
    steps = sequence(
        step("first", offset="-2d", at="10:00"), step("second", offset="+1h", critical=True)
    )
    message = plan(steps, patient(), [infusion(at(NEW_YORK, 2024, 6, 10, 10), 3)], QUIET, LONG_AGO)[
        1
    ]
    assert message == PlannedMessage(
        step_id="second",
        step_index=1,
        anchor="infusion.start",
        event_key="appointment:3",
        occurrence=3,
        channel="sms",
        template="t/second",
        due_at=datetime(2024, 6, 10, 15, 0, tzinfo=UTC),
        critical=True,
        skip_reason=None,
    )


# When: offsets, local times and DST


def test_due_times_are_utc_whatever_zone_the_event_was_recorded_in() -> None:
    event_in_tokyo = at(NEW_YORK, 2024, 6, 10, 10).astimezone(ZoneInfo("Asia/Tokyo"))
    message = plan_one(step(offset="+30m", critical=True), event_in_tokyo)
    assert message.due_at == datetime(2024, 6, 10, 14, 30, tzinfo=UTC)
    assert message.due_at.tzinfo is UTC


def test_a_day_before_at_nine_stays_nine_local_across_spring_forward() -> None:
    # The appointment is on Monday 2024-03-11 (EDT); the day before is the DST change itself.
    message = plan_one(step(offset="-1d", at="09:00"), at(NEW_YORK, 2024, 3, 11, 10))
    assert local(message, NEW_YORK) == datetime(2024, 3, 10, 9, 0)
    assert message.due_at == datetime(2024, 3, 10, 13, 0, tzinfo=UTC)


def test_a_day_before_at_nine_stays_nine_local_across_fall_back() -> None:
    message = plan_one(step(offset="-1d", at="09:00"), at(NEW_YORK, 2024, 11, 4, 10))
    assert message.due_at == datetime(2024, 11, 3, 14, 0, tzinfo=UTC)


def test_whole_days_keep_the_wall_time_even_when_the_day_has_23_hours() -> None:
    appointment = at(NEW_YORK, 2024, 3, 10, 10)  # New York sprang forward at 02:00 that day
    message = plan_one(step(offset="-1d"), appointment)
    assert local(message, NEW_YORK) == datetime(2024, 3, 9, 10, 0)
    assert appointment - message.due_at == timedelta(hours=23)


def test_hours_are_elapsed_time_across_fall_back() -> None:
    # Ends 00:30 EDT on the night New York falls back: two hours later the clock shows 01:30 EST.
    ended = at(NEW_YORK, 2024, 11, 3, 0, 30)
    message = plan_one(step(offset="+2h", critical=True), ended)
    assert message.due_at - ended == timedelta(hours=2)
    assert message.due_at == datetime(2024, 11, 3, 6, 30, tzinfo=UTC)


def test_an_event_in_the_second_pass_of_a_repeated_hour_keeps_its_own_instant() -> None:
    second_pass = datetime(2024, 11, 3, 6, 15, tzinfo=UTC)  # 01:15 EST, the second 01:15
    message = plan_one(step(offset="+30m", critical=True), second_pass)
    assert message.due_at == datetime(2024, 11, 3, 6, 45, tzinfo=UTC)


def test_a_send_time_inside_the_spring_forward_gap_moves_to_the_first_minute_after() -> None:
    message = plan_one(step(offset="-1d", at="02:30", critical=True), at(NEW_YORK, 2024, 3, 11, 10))
    assert local(message, NEW_YORK) == datetime(2024, 3, 10, 3, 0)


def test_a_send_time_repeated_by_fall_back_is_planned_once_at_its_first_pass() -> None:
    message = plan_one(step(offset="-1d", at="01:30", critical=True), at(NEW_YORK, 2024, 11, 4, 10))
    assert message.due_at == datetime(2024, 11, 3, 5, 30, tzinfo=UTC)  # 01:30 EDT


def test_london_keeps_local_send_times_across_both_changes() -> None:
    next_day = step(offset="+1d", at="09:00")
    londoner = patient("Europe/London")
    spring = plan_one(next_day, at(LONDON, 2024, 3, 30, 9), recipient=londoner)
    autumn = plan_one(next_day, at(LONDON, 2024, 10, 26, 9), recipient=londoner)
    assert spring.due_at == datetime(2024, 3, 31, 8, 0, tzinfo=UTC)  # BST
    assert autumn.due_at == datetime(2024, 10, 27, 9, 0, tzinfo=UTC)  # GMT


def test_lord_howes_half_hour_gap_moves_a_send_time_to_half_past_two() -> None:
    recipient = patient("Australia/Lord_Howe")
    on_the_day = step(offset="+0d", at="02:15", critical=True)
    message = plan_one(on_the_day, at(LORD_HOWE, 2024, 10, 6, 12), recipient=recipient)
    assert local(message, LORD_HOWE) == datetime(2024, 10, 6, 2, 30)
    assert message.due_at == datetime(2024, 10, 5, 15, 30, tzinfo=UTC)


def test_lord_howes_half_hour_fall_back_sends_at_the_first_pass() -> None:
    recipient = patient("Australia/Lord_Howe")
    on_the_day = step(offset="+0d", at="01:45", critical=True)
    message = plan_one(on_the_day, at(LORD_HOWE, 2024, 4, 7, 12), recipient=recipient)
    assert message.due_at == datetime(2024, 4, 6, 14, 45, tzinfo=UTC)  # +11:00, not +10:30


@pytest.mark.parametrize(
    ("event", "offset", "due_local"),
    [
        (datetime(2024, 1, 31, 10, 0), "+9mo", datetime(2024, 10, 31, 10, 0)),
        (datetime(2024, 1, 31, 10, 0), "+1mo", datetime(2024, 2, 29, 10, 0)),
        (datetime(2023, 1, 31, 10, 0), "+1mo", datetime(2023, 2, 28, 10, 0)),
        (datetime(2024, 2, 29, 10, 0), "+12mo", datetime(2025, 2, 28, 10, 0)),
        (datetime(2024, 3, 31, 10, 0), "-1mo", datetime(2024, 2, 29, 10, 0)),
        (datetime(2024, 1, 31, 10, 0), "+1mo1d", datetime(2024, 3, 1, 10, 0)),
    ],
)
def test_calendar_months_clamp_to_the_end_of_a_shorter_month(
    event: datetime, offset: str, due_local: datetime
) -> None:
    londoner = patient("Europe/London")
    message = plan_one(step(offset=offset), event.replace(tzinfo=LONDON), recipient=londoner)
    assert local(message, LONDON) == due_local


def test_a_booster_nine_months_after_the_course_is_nine_local_across_dst() -> None:
    completed = AnchorEvent("course.completed", at(NEW_YORK, 2024, 1, 31, 16))
    booster = sequence(step("booster", "course.completed", offset="+9mo", at="09:00"))
    [message] = plan(booster, patient(), [completed], QUIET, LONG_AGO)
    assert message.due_at == datetime(2024, 10, 31, 13, 0, tzinfo=UTC)  # 09:00 EDT


# Quiet hours


def test_a_non_critical_message_due_at_night_waits_for_the_morning() -> None:
    message = plan_one(step(offset="+12h"), at(NEW_YORK, 2024, 6, 10, 10))  # 22:00 local
    assert local(message, NEW_YORK) == datetime(2024, 6, 11, 8, 0)
    assert message.skip_reason is None


def test_a_non_critical_message_due_before_dawn_waits_for_the_same_morning() -> None:
    message = plan_one(step(offset="-4h"), at(NEW_YORK, 2024, 6, 10, 10))  # 06:00 local
    assert local(message, NEW_YORK) == datetime(2024, 6, 10, 8, 0)


def test_a_critical_message_is_never_delayed_by_quiet_hours() -> None:
    message = plan_one(step(offset="+12h", critical=True), at(NEW_YORK, 2024, 6, 10, 10))
    assert local(message, NEW_YORK) == datetime(2024, 6, 10, 22, 0)


def test_quiet_hours_are_the_clinics_and_read_on_the_patients_clock() -> None:
    late_evening = QuietHours(start=time(23, 0), end=time(7, 30))
    message = plan_one(
        step(offset="+0d", at="23:15"),
        at(LONDON, 2024, 6, 10, 10),
        recipient=patient("Europe/London"),
        quiet=late_evening,
    )
    assert local(message, LONDON) == datetime(2024, 6, 11, 7, 30)


# Late steps


def test_a_late_step_that_may_be_sent_late_is_due_now() -> None:
    now = datetime(2024, 6, 9, 16, 0, tzinfo=UTC)  # 12:00 local, after the 3-days-before reminder
    message = plan_one(step(offset="-3d", at="10:00"), at(NEW_YORK, 2024, 6, 10, 10), now=now)
    assert message.due_at == now
    assert message.skip_reason is None


def test_a_late_non_critical_step_enrolled_at_night_is_sent_in_the_morning() -> None:
    now = at(NEW_YORK, 2024, 6, 9, 23).astimezone(UTC)
    message = plan_one(step(offset="-3d", at="10:00"), at(NEW_YORK, 2024, 6, 10, 10), now=now)
    assert local(message, NEW_YORK) == datetime(2024, 6, 10, 8, 0)


def test_a_late_critical_step_enrolled_at_night_is_sent_right_away() -> None:
    now = at(NEW_YORK, 2024, 6, 9, 23).astimezone(UTC)
    late = step(offset="-3d", at="10:00", critical=True)
    assert plan_one(late, at(NEW_YORK, 2024, 6, 10, 10), now=now).due_at == now


def test_a_late_step_marked_skip_is_kept_with_its_computed_time_and_a_reason() -> None:
    now = datetime(2024, 6, 9, 16, 0, tzinfo=UTC)
    late = step(offset="-3d", at="10:00", if_late="skip")
    message = plan_one(late, at(NEW_YORK, 2024, 6, 10, 10), now=now)
    assert message.skip_reason == LATE_SKIP == "late: due before enrollment (if_late: skip)"
    assert local(message, NEW_YORK) == datetime(2024, 6, 7, 10, 0)


def test_a_late_reminder_before_an_event_that_already_happened_is_kept_but_not_sent() -> None:
    now = datetime(2024, 6, 12, 16, 0, tzinfo=UTC)  # two days after the infusion
    reminder = step(offset="-3d", at="10:00", critical=True)
    message = plan_one(reminder, at(NEW_YORK, 2024, 6, 10, 10), now=now)
    assert message.skip_reason == LATE_EVENT_PASSED == "late: its event has already happened"
    assert local(message, NEW_YORK) == datetime(2024, 6, 7, 10, 0)


def test_a_late_follow_up_after_an_event_that_already_happened_is_due_now() -> None:
    now = datetime(2024, 6, 12, 16, 0, tzinfo=UTC)
    follow_up = step(offset="+1d", at="10:00", critical=True)
    message = plan_one(follow_up, at(NEW_YORK, 2024, 6, 10, 10), now=now)
    assert (message.due_at, message.skip_reason) == (now, None)


def test_a_welcome_at_ten_goes_out_now_for_an_enrollment_at_two_in_the_afternoon() -> None:
    # Was skipped as "late: its event has already happened": the 10:00 pulled it before the
    # enrollment, and every enrollment after 10:00 local never got its welcome.
    enrolled = at(NEW_YORK, 2027, 3, 1, 14)
    welcome = step(anchor="enrolled", offset="+0m", at="10:00", if_late="send")
    [message] = plan(
        sequence(welcome), patient(), [AnchorEvent("enrolled", enrolled)], QUIET, enrolled
    )
    assert (message.due_at, message.skip_reason) == (enrolled.astimezone(UTC), None)


def test_a_welcome_for_an_enrollment_at_night_goes_out_the_next_morning() -> None:
    enrolled = at(NEW_YORK, 2027, 3, 1, 22)
    welcome = step(anchor="enrolled", offset="+0m", at="10:00", if_late="send")
    [message] = plan(
        sequence(welcome), patient(), [AnchorEvent("enrolled", enrolled)], QUIET, enrolled
    )
    assert (local(message, NEW_YORK), message.skip_reason) == (datetime(2027, 3, 2, 8, 0), None)


def test_reminders_for_an_early_infusion_booked_before_dawn_are_skipped_not_sent_after_it() -> None:
    # Was due 08:00, an hour after the 07:00 infusion started.
    now = at(NEW_YORK, 2027, 3, 10, 5).astimezone(UTC)
    for offset, hour in (("-1d", "17:00"), ("-3d", "10:00")):
        message = plan_one(step(offset=offset, at=hour), at(NEW_YORK, 2027, 3, 10, 7), now=now)
        assert message.skip_reason == LATE_NO_TIME_BEFORE
    midnight = at(NEW_YORK, 2027, 3, 11, 0, 18)
    booked = at(NEW_YORK, 2027, 3, 10, 21, 4).astimezone(UTC)
    message = plan_one(step(offset="-1d", at="17:00"), midnight, now=booked)
    assert message.skip_reason == LATE_NO_TIME_BEFORE


def test_a_reminder_that_quiet_hours_would_push_past_its_event_goes_before_they_start() -> None:
    now = at(NEW_YORK, 2027, 3, 9, 19).astimezone(UTC)
    message = plan_one(step(offset="-30m"), at(NEW_YORK, 2027, 3, 10, 7), now=now)
    assert (local(message, NEW_YORK), message.skip_reason) == (datetime(2027, 3, 9, 20, 59), None)


def test_a_reminder_whose_send_time_falls_after_its_event_moves_to_the_minute_before() -> None:
    # -30m at 17:00 from an 08:00 infusion would be 17:00 that day: nine hours after it.
    message = plan_one(step(offset="-30m", at="17:00"), at(NEW_YORK, 2027, 3, 10, 8, 30))
    assert local(message, NEW_YORK) == datetime(2027, 3, 10, 8, 29)


def test_a_step_due_exactly_now_is_not_late() -> None:
    now = datetime(2024, 6, 10, 14, 0, tzinfo=UTC)
    message = plan_one(step(if_late="skip"), at(NEW_YORK, 2024, 6, 10, 10), now=now)
    assert (message.due_at, message.skip_reason) == (now, None)


# Why a time moved: said beside the message in every preview and timeline


def test_a_message_at_its_steps_own_time_says_nothing_moved() -> None:
    message = plan_one(step(offset="-1d", at="17:00"), at(NEW_YORK, 2024, 6, 10, 10))
    assert message.moved is None


def test_a_late_step_sent_at_once_names_the_time_it_missed() -> None:
    now = datetime(2024, 6, 9, 16, 0, tzinfo=UTC)
    message = plan_one(step(offset="-3d", at="10:00"), at(NEW_YORK, 2024, 6, 10, 10), now=now)
    assert message.moved == "moved: its time (Fri 07 Jun, 10:00 EDT) had passed, so it goes at once"


def test_a_message_moved_out_of_quiet_hours_names_its_own_time() -> None:
    message = plan_one(step(offset="+12h"), at(NEW_YORK, 2024, 6, 10, 10))  # 22:00 local
    assert message.moved == "moved: out of quiet hours (its time was Mon 10 Jun, 22:00 EDT)"


def test_a_reminder_moved_before_its_event_says_so() -> None:
    message = plan_one(step(offset="-30m", at="17:00"), at(NEW_YORK, 2027, 3, 10, 8, 30))
    assert message.moved == (
        "moved: to the last allowed time before its event (its time was Wed 10 Mar, 17:00 EST)"
    )


def test_a_skipped_message_carries_its_skip_reason_and_no_move() -> None:
    now = datetime(2024, 6, 12, 16, 0, tzinfo=UTC)
    message = plan_one(step(offset="-3d", at="10:00"), at(NEW_YORK, 2024, 6, 10, 10), now=now)
    assert (message.skip_reason, message.moved) == (LATE_EVENT_PASSED, None)


# Channels


def test_the_patients_preferred_channel_among_the_steps_channels_is_chosen() -> None:
    both = step(channels=("sms", "email"), critical=True)
    prefers_email = patient(channels=("email", "sms"))
    assert plan_one(both, at(NEW_YORK, 2024, 6, 10, 10), recipient=prefers_email).channel == "email"
    assert plan_one(both, at(NEW_YORK, 2024, 6, 10, 10)).channel == "sms"


def test_a_channel_the_patient_did_not_consent_to_is_never_chosen() -> None:
    both = step(channels=("sms", "email"), critical=True)
    email_only = patient(channels=("email",))
    assert plan_one(both, at(NEW_YORK, 2024, 6, 10, 10), recipient=email_only).channel == "email"


@pytest.mark.parametrize("critical", [True, False])
def test_a_step_without_a_consented_channel_is_kept_with_a_reason(critical: bool) -> None:
    sms_only = step(channels=("sms", "email"), critical=critical)
    message = plan_one(sms_only, at(NEW_YORK, 2024, 6, 10, 10), recipient=patient(channels=()))
    assert message.channel == "sms"
    assert message.critical is critical
    reason = "no consented channel (step allows sms, email)"
    # A critical one needs a person: the reason says so, in the words staff search for.
    assert message.skip_reason == (f"staff must call: {reason}" if critical else reason)


# Order, determinism, inputs


def test_messages_are_sorted_by_due_time_then_step_then_occurrence() -> None:
    steps = sequence(
        step("after", offset="+1h", critical=True),
        step("same-time-a", offset="+0m", critical=True),
        step("same-time-b", offset="+0m", critical=True),
    )
    events = [
        infusion(at(NEW_YORK, 2024, 6, 17, 10), 2),
        infusion(at(NEW_YORK, 2024, 6, 10, 10), 1),
    ]
    messages = plan(steps, patient(), events, QUIET, LONG_AGO)
    assert [(m.step_id, m.occurrence) for m in messages] == [
        ("same-time-a", 1),
        ("same-time-b", 1),
        ("after", 1),
        ("same-time-a", 2),
        ("same-time-b", 2),
        ("after", 2),
    ]


def test_the_same_input_in_any_event_order_plans_the_same_messages() -> None:
    steps = sequence(step("a", offset="-1d", at="09:00"), step("b", offset="+2h"))
    events = [infusion(at(NEW_YORK, 2024, 6, 3 + 7 * n, 10), n) for n in (1, 2, 3)]
    first = plan(steps, patient(), events, QUIET, LONG_AGO)
    assert plan(steps, patient(), list(reversed(events)), QUIET, LONG_AGO) == first
    assert plan(steps, patient(), iter(events), QUIET, LONG_AGO) == first


def test_the_inputs_are_left_as_they_were() -> None:
    steps = sequence(step("a", offset="-1d", at="09:00"))
    events = [infusion(at(NEW_YORK, 2024, 6, 10, 10))]
    snapshot = (steps.model_copy(deep=True), list(events))
    plan(steps, patient(), events, QUIET, LONG_AGO)
    assert (steps, events) == snapshot


# Errors


def test_an_unknown_time_zone_is_named() -> None:
    with pytest.raises(PlanningError, match="unknown time zone 'Mars/Olympus'"):
        plan(sequence(step()), patient("Mars/Olympus"), [], QUIET, LONG_AGO)


@pytest.mark.parametrize("name", ["America", "", "../etc/passwd"])
def test_a_time_zone_that_is_not_a_zone_name_is_refused(name: str) -> None:
    with pytest.raises(PlanningError, match="unknown time zone"):
        plan(sequence(step()), patient(name), [], QUIET, LONG_AGO)


def test_a_naive_event_time_is_refused_naming_the_event() -> None:
    naive = AnchorEvent("infusion.start", datetime(2024, 6, 10, 10), key="appointment:42")
    with pytest.raises(PlanningError, match=r"event 'infusion.start' \(appointment:42\)"):
        plan(sequence(step()), patient(), [naive], QUIET, LONG_AGO)


def test_a_naive_now_is_refused() -> None:
    with pytest.raises(PlanningError, match=r"now .* has no time zone"):
        plan(sequence(step()), patient(), [], QUIET, datetime(2024, 6, 10))
