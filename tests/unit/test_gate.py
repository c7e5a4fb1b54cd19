"""The send-time gate: the last look at consent, enrollment, quiet hours and the daily cap."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from hypothesis import given
from hypothesis import strategies as st

from engage.delivery.gate import Action, SendFacts, decide
from engage.schedule.models import QuietHours

NOON_NY = datetime(2027, 6, 1, 16, 0, tzinfo=UTC)
BASE = SendFacts(
    channel="sms",
    step_channels=("sms", "email"),
    critical=False,
    enrollment_state="active",
    appointment_cancelled=False,
    open_channels=("sms", "email"),
    sent_today=0,
    daily_cap=3,
    timezone="America/New_York",
    quiet=QuietHours(),
    now=NOON_NY,
)


def test_open_channel_at_noon_sends_on_it() -> None:
    assert decide(BASE).action is Action.SEND and decide(BASE).channel == "sms"


def test_unenrolled_patient_message_is_cancelled() -> None:
    verdict = decide(replace(BASE, enrollment_state="cancelled"))
    assert (verdict.action, verdict.reason) == (Action.CANCEL, "enrollment cancelled")


def test_cancelled_appointment_cancels_even_a_critical_message() -> None:
    verdict = decide(replace(BASE, appointment_cancelled=True, critical=True))
    assert (verdict.action, verdict.reason) == (Action.CANCEL, "appointment cancelled")


def test_paused_enrollment_waits_an_hour_and_looks_again() -> None:
    verdict = decide(replace(BASE, enrollment_state="paused"))
    assert verdict.action is Action.DEFER and verdict.until == NOON_NY + timedelta(hours=1)


def test_closed_channel_falls_back_to_another_channel_the_step_allows() -> None:
    verdict = decide(replace(BASE, open_channels=("email",)))
    assert (verdict.action, verdict.channel) == (Action.SEND, "email")
    assert verdict.reason == "fallback: sms closed, sent by email"


def test_non_critical_message_does_not_leave_its_steps_channels() -> None:
    verdict = decide(replace(BASE, step_channels=("sms",), open_channels=("email",)))
    assert (verdict.action, verdict.reason) == (Action.SUPPRESS, "sms consent closed")


def test_critical_message_uses_any_open_channel() -> None:
    verdict = decide(replace(BASE, critical=True, step_channels=("sms",), open_channels=("email",)))
    assert (verdict.action, verdict.channel) == (Action.SEND, "email")


def test_critical_message_with_every_channel_closed_is_flagged() -> None:
    verdict = decide(replace(BASE, critical=True, open_channels=()))
    assert verdict.action is Action.FLAG and "staff must call" in verdict.reason


def test_daily_cap_defers_to_the_next_local_morning() -> None:
    verdict = decide(replace(BASE, sent_today=3))
    assert verdict.action is Action.DEFER and verdict.reason == "daily cap reached"
    assert verdict.until == datetime(2027, 6, 2, 8, 0, tzinfo=ZoneInfo("America/New_York"))


def test_critical_messages_ignore_the_cap_and_quiet_hours() -> None:
    night = datetime(2027, 6, 2, 3, 0, tzinfo=ZoneInfo("America/New_York"))
    verdict = decide(replace(BASE, critical=True, sent_today=99, now=night))
    assert verdict.action is Action.SEND


@given(st.integers(min_value=0, max_value=24 * 60 - 1))
def test_a_non_critical_send_never_happens_in_quiet_hours(minute: int) -> None:
    zone = ZoneInfo("America/New_York")
    local = datetime(2027, 6, 1, tzinfo=zone) + timedelta(minutes=minute)
    verdict = decide(replace(BASE, now=local.astimezone(UTC)))
    in_quiet = BASE.quiet.contains(local.time())
    assert (verdict.action is Action.DEFER) == in_quiet
    if in_quiet:
        assert verdict.until is not None and verdict.until.astimezone(zone).time() == BASE.quiet.end


# A reminder whose event has started is no longer sent (a backlog, a deferral, a slow worker).

INFUSION = datetime(2027, 6, 2, 11, 0, tzinfo=UTC)  # 07:00 in New York


def test_a_reminder_is_cancelled_once_its_event_has_started() -> None:
    facts = replace(BASE, before_event=True, event_at=INFUSION, now=INFUSION + timedelta(minutes=1))
    verdict = decide(facts)
    assert (verdict.action, verdict.reason) == (Action.CANCEL, "late: its event has started")
    critical = decide(replace(facts, critical=True))
    assert critical.action is Action.CANCEL


def test_a_reminder_before_its_event_still_goes() -> None:
    facts = replace(BASE, before_event=True, event_at=INFUSION, now=INFUSION - timedelta(hours=2))
    assert decide(replace(facts, now=datetime(2027, 6, 1, 20, 0, tzinfo=UTC))).action is Action.SEND


def test_a_reminder_that_quiet_hours_would_hold_past_its_event_is_cancelled() -> None:
    night = datetime(2027, 6, 2, 5, 0, tzinfo=ZoneInfo("America/New_York"))  # quiet until 08:00
    verdict = decide(replace(BASE, before_event=True, event_at=INFUSION, now=night))
    assert verdict.action is Action.CANCEL
    assert verdict.reason == "late: its event has started by the end of the quiet hours"


def test_a_follow_up_after_its_event_is_not_cancelled_by_it() -> None:
    later = replace(BASE, before_event=False, event_at=INFUSION, now=INFUSION + timedelta(hours=3))
    assert decide(later).action is Action.SEND


def test_a_daily_cap_deferral_into_a_skipped_hour_lands_on_the_first_minute_after_it() -> None:
    # Quiet hours end at 02:30; New York skips 02:00-03:00 on 2027-03-14. datetime.combine read
    # 02:30 with the old offset: 03:30 EDT, half an hour late. The planner's rule says 03:00.
    quiet = QuietHours(start="23:00", end="02:30")
    evening = datetime(2027, 3, 13, 12, 0, tzinfo=ZoneInfo("America/New_York"))
    verdict = decide(replace(BASE, quiet=quiet, sent_today=3, now=evening))
    assert verdict.action is Action.DEFER
    assert verdict.until == datetime(2027, 3, 14, 7, 0, tzinfo=UTC)  # 03:00 EDT


def test_the_notice_of_a_cancellation_is_not_stopped_by_the_cancellation() -> None:
    notice = replace(BASE, appointment_cancelled=True, about_cancellation=True)
    assert decide(notice).action is Action.SEND
    assert decide(replace(notice, about_cancellation=False)).action is Action.CANCEL
