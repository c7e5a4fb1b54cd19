"""The quiet-hours tripwire behind `engage_quiet_hours_sends_total`: true only for a non-critical
message reaching the provider inside the recipient's quiet hours."""

from __future__ import annotations

from datetime import UTC, datetime

from engage.delivery.call import in_quiet_hours
from engage.delivery.gate import SendFacts
from engage.schedule.models import QuietHours


def _facts(critical: bool = False) -> SendFacts:
    return SendFacts(
        channel="sms",
        step_channels=("sms",),
        critical=critical,
        enrollment_state="active",
        appointment_cancelled=False,
        open_channels=("sms",),
        sent_today=0,
        daily_cap=3,
        timezone="Europe/Madrid",
        quiet=QuietHours(),
        now=datetime(2027, 3, 10, 12, 0, tzinfo=UTC),
    )


def test_a_non_critical_send_at_21_00_local_trips_it() -> None:
    assert in_quiet_hours(_facts(), datetime(2027, 3, 10, 20, 0, 11, tzinfo=UTC))  # 21:00:11 CET


def test_daytime_and_critical_sends_do_not() -> None:
    assert not in_quiet_hours(_facts(), datetime(2027, 3, 10, 12, 0, tzinfo=UTC))
    assert not in_quiet_hours(_facts(critical=True), datetime(2027, 3, 10, 20, 0, tzinfo=UTC))
