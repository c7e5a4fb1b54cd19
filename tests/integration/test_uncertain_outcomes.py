"""An ambiguous outcome (accepted, then the connection reset) is `uncertain`, then settled from
Twilio's own records: never resent blindly, and never matched to another message's record.

Runs on SQLite and PostgreSQL, the real Twilio SDK against the fake (its Messages list and its
accept-then-reset reply). The kit's clock is the real one here: Twilio's `date_created` is.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from prometheus_client import REGISTRY

from engage.delivery.retry import SettleWaits
from engage.runtime import Runtime
from engage.settings import Settings
from engage.store import Message, MessageState
from tests.delivery_kit import Kit
from tests.fakes.provider_server import SENDGRID, TWILIO, TWILIO_LIST, ProviderServer, reset

S = MessageState


def _count(name: str, provider: str = "twilio") -> float:
    return REGISTRY.get_sample_value(name, {"provider": provider}) or 0.0


def _now(kit: Kit) -> None:
    kit.clock.now = datetime.now(UTC)


def test_accepted_then_reset_is_settled_from_the_list_without_a_resend(
    kit: Kit, fake: ProviderServer
) -> None:
    _now(kit)
    uncertain_before = _count("engage_uncertain_outcomes_total")
    fake.script(TWILIO, reset())
    mid = kit.message(kit.patient(), step="safety", critical=True)  # critical: any hour
    kit.run_due()
    message = kit.get(mid)
    assert (message.state, message.last_error_code) == (S.UNCERTAIN, "reset")
    assert _count("engage_uncertain_outcomes_total") == uncertain_before + 1
    kit.run_due()
    assert kit.get(mid).state == S.UNCERTAIN  # waits for a status callback first
    kit.clock.advance(seconds=11)
    kit.run_due()
    settled = kit.get(mid)
    [created] = fake.requests_to(TWILIO)
    assert settled.state == S.SENT and settled.provider_id
    assert [r.route for r in fake.requests] == [TWILIO, TWILIO_LIST]  # asked, not resent
    assert created.form()["StatusCallback"].endswith(f"/{mid}")


def test_a_record_another_message_holds_is_not_taken_as_this_ones(
    kit: Kit, fake: ProviderServer
) -> None:
    _now(kit)
    pid = kit.patient()
    first = kit.message(pid, step="safety", critical=True)
    kit.run_due()  # sent: the same body to the same number is now in Twilio's list
    second = kit.message(pid, step="safety", critical=True)
    with kit.sessions.begin() as s:  # its worker died around the call: recovery's case
        m = s.get_one(Message, second)
        m.state, m.sending_at, m.lease_until = S.SENDING, kit.clock.now, kit.clock.now
    kit.clock.advance(seconds=1)
    assert kit.dispatcher.recover()["sending"] == 1
    kit.clock.advance(seconds=11)
    kit.run_due()
    one, two = kit.get(first), kit.get(second)
    assert two.state == S.SENT and two.provider_id != one.provider_id
    assert len(fake.requests_to(TWILIO)) == 2  # no trace of its own: sent, once


def test_a_failed_lookup_leaves_it_uncertain_and_sends_nothing(
    kit: Kit, fake: ProviderServer
) -> None:
    _now(kit)
    fake.script(TWILIO, reset())
    mid = kit.message(kit.patient(), step="safety", critical=True)
    kit.run_due()
    fake.stop()  # the provider is down: the list cannot be read
    kit.clock.advance(seconds=11)
    kit.run_due()
    message = kit.get(mid)
    assert (message.state, message.last_error_code) == (S.UNCERTAIN, "lookup")
    assert len(fake.requests_to(TWILIO)) == 1


def test_an_email_with_no_processed_event_is_resent_and_counted_as_a_possible_duplicate(
    kit: Kit, fake: ProviderServer
) -> None:
    _now(kit)
    duplicates_before = _count("engage_duplicate_sends_total", "sendgrid")
    fake.script(SENDGRID, reset())
    mid = kit.message(kit.patient(sms=False), step="safety", channel="email", critical=True)
    kit.run_due()
    assert kit.get(mid).state == S.UNCERTAIN
    kit.clock.advance(seconds=30)
    kit.run_due()
    assert kit.get(mid).state == S.UNCERTAIN  # SendGrid's `processed` event gets a minute
    kit.clock.advance(seconds=31)
    kit.run_due()
    assert kit.get(mid).state == S.SENT
    assert len(fake.requests_to(SENDGRID)) == 2  # no list to ask: sent again...
    assert _count("engage_duplicate_sends_total", "sendgrid") == duplicates_before + 1  # ...said


def test_the_settle_waits_are_settings(
    kit: Kit, fake: ProviderServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ENGAGE_SMS_SETTLE_SECONDS", "3")
    monkeypatch.setenv("ENGAGE_EMAIL_SETTLE_SECONDS", "20")
    waits = Runtime(Settings()).settle
    assert waits == SettleWaits(sms=timedelta(seconds=3), email=timedelta(seconds=20))
    kit.sender.settle = kit.dispatcher.settle = waits  # as Runtime builds them
    _now(kit)
    fake.script(TWILIO, reset())
    sms = kit.message(kit.patient(), step="safety", critical=True)
    kit.run_due()
    assert kit.get(sms).due_at == kit.clock() + timedelta(seconds=3)
    email = kit.message(kit.patient(), step="safety", channel="email", critical=True)
    with kit.sessions.begin() as s:  # its worker died around the call: recovery's case
        m = s.get_one(Message, email)
        m.state, m.sending_at, m.lease_until = S.SENDING, kit.clock.now, kit.clock.now
    kit.clock.advance(seconds=1)
    assert kit.dispatcher.recover()["sending"] == 1
    assert kit.get(email).due_at == kit.clock() + timedelta(seconds=20)
    kit.clock.advance(seconds=2.5)
    kit.run_due()
    assert kit.get(sms).state == S.SENT  # asked after 3 s, not 10
    assert kit.get(email).state == S.UNCERTAIN  # waits for its `processed` event
