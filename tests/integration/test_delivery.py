"""The outbox end to end, minus the broker: dispatcher claims, sender decides, channel sends.

Runs on SQLite and on the real PostgreSQL; providers are the real SDKs against our fake server.
"""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

from engage.channels.file import FileChannel
from engage.store import Consent, MessageEvent, MessageState
from tests.delivery_kit import Kit, build_kit
from tests.fakes.provider_server import SENDGRID, TWILIO, ProviderServer, twilio_error

S = MessageState


def states(kit: Kit, message_id: int) -> list[tuple[str | None, str]]:
    with kit.sessions() as s:
        rows = s.query(MessageEvent).filter_by(message_id=message_id).order_by(MessageEvent.id)
        return [(e.from_state, e.to_state) for e in rows]


def test_due_message_is_sent_once_and_every_transition_is_recorded(
    kit: Kit, fake: ProviderServer
) -> None:
    mid = kit.message(kit.patient())
    assert kit.run_due() == 1
    message = kit.get(mid)
    assert message.state == S.SENT and message.provider == "twilio" and message.provider_id
    assert states(kit, mid) == [("scheduled", "queued"), ("queued", "sending"), ("sending", "sent")]
    [request] = fake.requests_to(TWILIO)
    assert request.form()["StatusCallback"].endswith(f"/webhooks/twilio/status/{mid}")
    assert kit.run_due() == 0 and len(fake.requests_to(TWILIO)) == 1


def test_message_not_yet_due_stays_in_the_database(kit: Kit, fake: ProviderServer) -> None:
    mid = kit.message(kit.patient(), due_in=3600)
    assert kit.run_due() == 0
    assert kit.get(mid).state == S.SCHEDULED and fake.requests == []


def test_duplicate_send_task_does_not_send_twice(kit: Kit, fake: ProviderServer) -> None:
    mid = kit.message(kit.patient())
    kit.run_due()
    assert kit.sender.send(mid) == "skipped: sent"
    assert len(fake.requests_to(TWILIO)) == 1


def test_stop_after_queueing_suppresses_the_sms(kit: Kit, fake: ProviderServer) -> None:
    pid = kit.patient(email=False)
    mid = kit.message(pid)
    with kit.sessions.begin() as s:
        s.query(Consent).filter_by(patient_id=pid, channel="sms").update({"granted": False})
    kit.run_due()
    message = kit.get(mid)
    assert message.state == S.SUPPRESSED and message.reason == "sms consent closed"
    assert fake.requests == []


def test_critical_message_falls_back_to_email_when_sms_is_closed(
    kit: Kit, fake: ProviderServer
) -> None:
    mid = kit.message(kit.patient(sms=False), step="safety", critical=True)
    kit.run_due()
    message = kit.get(mid)
    assert message.state == S.SENT and message.channel == "email"
    assert message.reason == ""
    assert "fallback: sms closed, sent by email" in [r for _, r in _reasons(kit, mid)]
    [request] = fake.requests_to(SENDGRID)
    body = request.json()
    assert body["personalizations"][0]["custom_args"]["engage_message_id"] == str(mid)
    assert request.json()["headers"]["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"


def test_critical_message_with_no_open_channel_is_flagged_for_staff(
    kit: Kit, fake: ProviderServer
) -> None:
    mid = kit.message(kit.patient(sms=False, email=False), step="safety", critical=True)
    kit.run_due()
    message = kit.get(mid)
    assert message.state == S.FLAGGED and "staff must call" in message.reason
    assert fake.requests == []


def test_daily_cap_defers_non_critical_messages_to_the_next_morning(
    kit: Kit, fake: ProviderServer
) -> None:
    pid = kit.patient()
    ids = [kit.message(pid) for _ in range(3)]
    kit.run_due()
    assert [kit.get(i).state for i in ids].count(S.SENT) == 2
    [deferred] = [kit.get(i) for i in ids if kit.get(i).state == S.SCHEDULED]
    assert deferred.reason == "daily cap reached"
    assert deferred.due_at.isoformat() == "2027-03-11T13:00:00+00:00"  # 08:00 New York (EST)


def test_quiet_hours_at_send_time_defer_but_critical_goes_now(
    kit: Kit, fake: ProviderServer
) -> None:
    kit.clock.advance(hours=10)  # 02:00 in New York
    pid = kit.patient()
    quiet = kit.message(pid)
    urgent = kit.message(pid, step="safety", critical=True)
    kit.run_due()
    assert kit.get(urgent).state == S.SENT
    waiting = kit.get(quiet)
    assert waiting.state == S.SCHEDULED and waiting.reason == "quiet hours"
    assert waiting.due_at.isoformat() == "2027-03-11T13:00:00+00:00"


def test_rate_limited_send_is_retried_after_retry_after(kit: Kit, fake: ProviderServer) -> None:
    fake.script(TWILIO, twilio_error(429, 20429, **{"Retry-After": "7"}))
    mid = kit.message(kit.patient())
    kit.run_due()
    first = kit.get(mid)
    assert first.state == S.SCHEDULED and first.attempts == 1 and first.reason.startswith("retry 1")
    assert (first.due_at - kit.clock.now).total_seconds() >= 7
    kit.clock.advance(seconds=11)
    kit.run_due()
    assert kit.get(mid).state == S.SENT and kit.get(mid).attempts == 2
    assert len(fake.requests_to(TWILIO)) == 2


def test_server_errors_give_up_after_max_attempts(kit: Kit, fake: ProviderServer) -> None:
    fake.script(TWILIO, *[twilio_error(503, 20503)] * 5)
    mid = kit.message(kit.patient())
    for _ in range(4):
        kit.run_due()
        kit.clock.advance(seconds=20)
    message = kit.get(mid)
    assert message.state == S.FAILED and message.attempts == 3
    assert message.reason.startswith("gave up after 3 attempts")
    assert len(fake.requests_to(TWILIO)) == 3


def test_invalid_number_fails_at_once(kit: Kit, fake: ProviderServer) -> None:
    fake.script(TWILIO, twilio_error(400, 21211))
    mid = kit.message(kit.patient())
    kit.run_due()
    message = kit.get(mid)
    assert (
        message.state == S.FAILED and message.attempts == 1 and message.last_error_code == "21211"
    )
    assert message.reason.startswith("permanent")


def test_provider_says_unsubscribed_closes_sms_consent(kit: Kit, fake: ProviderServer) -> None:
    fake.script(TWILIO, twilio_error(400, 21610))
    pid = kit.patient()
    first, second = kit.message(pid), kit.message(pid)
    kit.run_due()
    assert {kit.get(first).state, kit.get(second).state} <= {S.FAILED, S.SENT, S.SUPPRESSED}
    with kit.sessions() as s:
        consent = s.query(Consent).filter_by(patient_id=pid, channel="sms").one()
    assert consent.granted is False and consent.source == "twilio-21610"


def test_recovery_settles_a_message_stuck_in_sending_without_provider_id(
    kit: Kit, fake: ProviderServer
) -> None:
    from engage.store import Message

    pid = kit.patient()
    lost, accepted = kit.message(pid), kit.message(pid)
    with kit.sessions.begin() as s:
        for mid, provider_id in ((lost, None), (accepted, "SM123")):
            m = s.get_one(Message, mid)
            m.state, m.sending_at, m.provider_id = S.SENDING, kit.clock.now, provider_id
    kit.clock.advance(minutes=6)
    assert kit.dispatcher.recover() == {"queued": 0, "sending": 2}
    assert kit.get(accepted).state == S.SENT
    assert kit.get(lost).state == S.UNCERTAIN and "outcome unknown" in kit.get(lost).reason
    # Ten seconds on, a worker asks Twilio's list, finds no trace, and sends it.
    kit.clock.advance(seconds=11)
    kit.run_due()
    assert kit.get(lost).state == S.SENT
    assert [r.route for r in fake.requests] == ["twilio-list", "twilio"]


def test_file_channel_writes_the_rendered_message(db_url: str, tmp_path: Path) -> None:
    outbox = tmp_path / "outbox"
    file = FileChannel(outbox)
    kit = build_kit(db_url, tmp_path / "templates", {"sms": file, "email": file})
    mid = kit.message(kit.patient(name="Rosa"))
    kit.run_due()
    written = json.loads((outbox / f"{mid}.json").read_text())
    assert written["body"] == "Hi Rosa, a note from Test Clinic. Reply STOP to opt out."
    assert kit.get(mid).provider_id == f"file-{mid}"


def _reasons(kit: Kit, message_id: int) -> list[tuple[str, str]]:
    with kit.sessions() as s:
        rows = s.query(MessageEvent).filter_by(message_id=message_id).order_by(MessageEvent.id)
        return [(e.to_state, e.reason) for e in rows]


def test_appointment_email_carries_its_calendar_file(kit: Kit, fake: ProviderServer) -> None:
    import base64

    pid = kit.patient(sms=False)
    starts = kit.clock.now + timedelta(days=2)
    mid = kit.message(
        pid, step="visit", channel="email", appointment_id=kit.appointment(pid, starts)
    )
    kit.run_due()
    assert kit.get(mid).state == S.SENT
    [request] = fake.requests_to(SENDGRID)
    body = request.json()
    assert body["subject"] == "Your visit on Friday, March 12, 2027"
    [attachment] = body["attachments"]
    assert (attachment["filename"], attachment["type"]) == ("appointment.ics", "text/calendar")
    ics = base64.b64decode(attachment["content"]).decode()
    assert "BEGIN:VEVENT" in ics and "DTSTART:20270312T160000Z" in ics and "LOCATION:Room 4" in ics
