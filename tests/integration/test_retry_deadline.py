"""Retries run to a deadline, not a count: an hour-long outage (503 after 503) keeps a message
retrying for the whole hour, then fails it saying how long the provider was down; a critical one
is flagged for staff after the alert delay while its retries go on (issue 11 item 4)."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from sqlalchemy import select

from engage.delivery.retry import RetryPolicy
from engage.store import AuditLog, MessageState
from tests.delivery_kit import Kit, build_kit, provider_channels, provider_settings
from tests.fakes.provider_server import TWILIO, ProviderServer, twilio_error

S = MessageState
HOUR_POLICY = RetryPolicy(base=2.0, cap=600.0, horizon=timedelta(hours=1))


def _run_until_final(kit: Kit, message_id: int) -> None:
    for _ in range(200):
        kit.run_due()
        message = kit.get(message_id)
        if message.state != S.SCHEDULED:
            return
        kit.clock.now = max(kit.clock.now, message.due_at)
    raise AssertionError("still retrying after 200 rounds")


def test_an_outage_longer_than_the_old_budget_retries_until_the_horizon(
    db_url: str, tmp_path: Path, fake: ProviderServer
) -> None:
    channels = provider_channels(provider_settings(fake.url))
    kit = build_kit(
        db_url, tmp_path / "t", channels, policy=HOUR_POLICY, alert_after=timedelta(minutes=10)
    )
    fake.script(TWILIO, *[twilio_error(503, 20503)] * 150)
    started = kit.clock.now
    mid = kit.message(kit.patient(), step="safety", critical=True)
    _run_until_final(kit, mid)
    message = kit.get(mid)
    assert message.state == S.FAILED
    assert kit.clock.now - started == timedelta(hours=1)  # the last try lands on the deadline
    assert message.attempts > 6  # the old six-attempt budget spanned about a minute
    assert message.reason.startswith("gave up: provider unavailable for 1h 00m (")
    assert "the retry horizon passed" in message.reason
    assert len(fake.requests_to(TWILIO)) == message.attempts
    # Staff were told once, ten minutes in, while it kept retrying.
    with kit.sessions() as s:
        alerts = s.scalars(
            select(AuditLog).where(AuditLog.action == "message.critical_undelivered")
        ).all()
    assert [a.entity_id for a in alerts] == [str(mid)]
    assert message.staff_alerted_at is not None
    assert timedelta(minutes=10) <= message.staff_alerted_at - started < timedelta(minutes=30)


def test_an_outage_that_ends_in_time_delivers_without_alerting_staff_for_a_routine_message(
    kit: Kit, fake: ProviderServer
) -> None:
    fake.script(TWILIO, *[twilio_error(503, 20503)] * 2)
    mid = kit.message(kit.patient())
    _run_until_final(kit, mid)
    message = kit.get(mid)
    assert message.state == S.SENT and message.attempts == 3
    assert message.failing_since is None and message.staff_alerted_at is None
