"""Provider webhooks over HTTP: signed or refused, applied once, never moving a message back.

Requests are signed with the real SDKs' schemes: Twilio's RequestValidator over the public URL,
SendGrid's ECDSA P-256 over timestamp + body with a key pair made for the test.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from engage.consent.unsubscribe_tokens import token as unsubscribe_token
from engage.store import Consent, InboundMessage, Message, MessageState
from engage.store.message_states import transition
from tests.api_kit import NOW, PUBLIC_URL, SIGNING_SECRET, Api, build_api

S = MessageState
EMPTY = '<?xml version="1.0" encoding="UTF-8"?><Response />'


@pytest.fixture
def api(db_url: str, tmp_path: Path) -> Api:
    return build_api(db_url, tmp_path)


def consent(api: Api, patient_id: int, channel: str) -> Consent:
    with api.sessions() as s:
        return s.scalars(
            select(Consent).where(Consent.patient_id == patient_id, Consent.channel == channel)
        ).one()


def sent_message(api: Api, patient: dict[str, Any], channel: str, provider_id: str) -> int:
    """Enroll the patient and mark their first message sent, as the worker would."""
    enrolled = api.post(f"/patients/{patient['id']}/enrollments", json={"sequence": "education"})
    assert enrolled.status_code == 201, enrolled.text
    with api.sessions.begin() as s:
        message = s.scalars(
            select(Message).where(Message.patient_id == patient["id"]).order_by(Message.id)
        ).first()
        assert message is not None
        message.channel = channel
        for state in (S.QUEUED, S.SENDING, S.SENT):
            transition(s, message, state, "test", "worker", at=api.clock())
        # Sent now by the app's clock (a 21610 is dated by its send).
        message.sending_at = message.sent_at = api.clock()
        message.provider = "twilio" if channel == "sms" else "sendgrid"
        message.provider_id = provider_id
        return message.id


def message(api: Api, message_id: int) -> Message:
    with api.sessions() as s:
        found = s.get(Message, message_id)
        assert found is not None
        return found


# -- Twilio signatures -------------------------------------------------------------------


def test_unsigned_or_forged_twilio_requests_are_403(api: Api) -> None:
    params = {"MessageSid": "SM1", "From": "+14155550100", "Body": "STOP"}
    assert api.client.post("/webhooks/twilio/sms", data=params).status_code == 403
    forged = api.client.post(
        "/webhooks/twilio/sms", data=params, headers={"X-Twilio-Signature": "bm90IGl0"}
    )
    assert forged.status_code == 403


def test_a_signature_for_other_fields_is_403(api: Api) -> None:
    from twilio.request_validator import RequestValidator

    from tests.api_kit import TWILIO_TOKEN

    signed = {"MessageSid": "SM1", "From": "+14155550100", "Body": "HELP"}
    signature = RequestValidator(TWILIO_TOKEN).compute_signature(
        PUBLIC_URL + "/webhooks/twilio/sms", signed
    )
    answer = api.client.post(
        "/webhooks/twilio/sms",
        data=signed | {"Body": "STOP"},
        headers={"X-Twilio-Signature": signature},
    )
    assert answer.status_code == 403


# -- inbound SMS -------------------------------------------------------------------------


def test_stop_closes_sms_consent_and_confirms_only_once(api: Api) -> None:
    patient = api.patient()
    first = api.sms_in(patient["phone"], "STOP")
    assert first.status_code == 200 and first.headers["content-type"] == "application/xml"
    assert "<Message>" in first.text and "START" in first.text
    assert consent(api, patient["id"], "sms").granted is False
    assert consent(api, patient["id"], "sms").source == "sms-stop"
    assert api.sms_in(patient["phone"], "stop").text == EMPTY
    assert api.sms_in(patient["phone"], "Unsubscribe").text == EMPTY


@pytest.mark.parametrize(
    "word", ["STOPALL", "cancel", "End", "QUIT", "revoke", "OPTOUT", "No más", "ALTO", "parar"]
)
def test_every_stop_synonym_closes_sms_consent(api: Api, word: str) -> None:
    patient = api.patient()
    assert "<Message>" in api.sms_in(patient["phone"], word).text
    assert consent(api, patient["id"], "sms").granted is False


def test_first_stop_of_a_patient_already_closed_is_answered_once(api: Api) -> None:
    patient = api.patient(sms=False)
    assert "<Message>" in api.sms_in(patient["phone"], "STOP").text
    assert api.sms_in(patient["phone"], "STOP").text == EMPTY


def test_start_reopens_sms_after_stop_and_a_later_stop_is_confirmed_again(api: Api) -> None:
    patient = api.patient()
    api.sms_in(patient["phone"], "STOP")
    started = api.sms_in(patient["phone"], "start")
    assert "<Message>" in started.text
    assert consent(api, patient["id"], "sms").granted is True
    assert consent(api, patient["id"], "sms").notice == "notice-v1"
    assert "<Message>" in api.sms_in(patient["phone"], "STOP").text


def test_help_answers_with_the_clinics_name_phone_and_how_to_stop(api: Api) -> None:
    patient = api.patient()
    text = api.sms_in(patient["phone"], "HELP").text
    assert "Bayview Clinic" in text and "+14155550123" in text and "STOP" in text
    assert consent(api, patient["id"], "sms").granted is True


def test_help_in_spanish_for_a_spanish_speaking_patient(api: Api) -> None:
    patient = api.patient(locale="es")
    assert "Llame al +14155550123" in api.sms_in(patient["phone"], "AYUDA").text


def test_c_confirms_the_next_appointment(api: Api) -> None:
    patient = api.patient()
    later = api.post(
        f"/patients/{patient['id']}/appointments", json={"starts_at": "2027-04-02T10:00:00-07:00"}
    ).json()
    sooner = api.post(
        f"/patients/{patient['id']}/appointments", json={"starts_at": "2027-03-20T10:00:00-07:00"}
    ).json()
    text = api.sms_in(patient["phone"], "c").text
    assert "confirmed" in text and "Mar 20 10:00" in text
    assert api.get(f"/appointments/{sooner['id']}").json()["state"] == "confirmed"
    assert api.get(f"/appointments/{later['id']}").json()["state"] == "scheduled"


def test_c_without_an_upcoming_appointment_says_so(api: Api) -> None:
    patient = api.patient()
    assert "no upcoming appointment" in api.sms_in(patient["phone"], "CONFIRM").text


def test_any_other_text_is_kept_for_staff_and_not_answered(api: Api) -> None:
    patient = api.patient()
    assert api.sms_in(patient["phone"], "Can I bring my sister?").text == EMPTY
    [kept] = api.get("/inbox", params={"keyword": "other"}).json()
    assert kept["patient_id"] == patient["id"] and kept["body"] == "Can I bring my sister?"


def test_a_text_from_an_unknown_number_is_kept_without_a_patient(api: Api) -> None:
    assert "<Message>" in api.sms_in("+14155550999", "STOP").text
    [kept] = api.get("/inbox").json()
    assert kept["patient_id"] is None and kept["keyword"] == "stop"


def test_a_duplicate_inbound_delivery_changes_nothing(api: Api) -> None:
    patient = api.patient()
    api.sms_in(patient["phone"], "Running late", sid="SMdup")
    api.put(
        f"/patients/{patient['id']}/consents/sms",
        json={"granted": False, "source": "phone-call"},
    )
    assert api.sms_in(patient["phone"], "START", sid="SMdup").text == EMPTY
    assert consent(api, patient["id"], "sms").granted is False
    with api.sessions() as s:
        assert len(s.scalars(select(InboundMessage)).all()) == 1


def test_a_captured_start_replayed_with_a_fresh_idempotency_header_changes_nothing(
    api: Api,
) -> None:
    patient = api.patient()
    params = {"MessageSid": "SMstart1", "From": patient["phone"], "To": "+14155550123"}
    api.twilio(
        "/webhooks/twilio/sms",
        params | {"Body": "START"},
        headers={"I-Twilio-Idempotency-Token": "a"},
    )
    api.sms_in(patient["phone"], "STOP")
    replay = api.twilio(
        "/webhooks/twilio/sms",
        params | {"Body": "START"},
        headers={"I-Twilio-Idempotency-Token": "b"},
    )
    assert replay.text == EMPTY
    assert consent(api, patient["id"], "sms").granted is False


# -- Twilio status callbacks -------------------------------------------------------------


def status(api: Api, message_id: int, sid: str, value: str, **extra: str) -> Any:
    params = {"MessageSid": sid, "MessageStatus": value, **extra}
    return api.twilio(f"/webhooks/twilio/status/{message_id}", params)


def test_delivered_callback_marks_the_message_delivered(api: Api) -> None:
    mid = sent_message(api, api.patient(), "sms", "SM42")
    assert status(api, mid, "SM42", "delivered").status_code == 200
    delivered = message(api, mid)
    assert delivered.state == S.DELIVERED and delivered.provider_status == "delivered"
    assert delivered.delivered_at is not None


def test_a_late_sent_never_overwrites_delivered(api: Api) -> None:
    mid = sent_message(api, api.patient(), "sms", "SM43")
    status(api, mid, "SM43", "delivered")
    status(api, mid, "SM43", "sent")
    status(api, mid, "SM43", "queued")
    late = message(api, mid)
    assert late.state == S.DELIVERED and late.provider_status == "delivered"


def test_undelivered_with_its_error_code_is_recorded(api: Api) -> None:
    mid = sent_message(api, api.patient(), "sms", "SM44")
    status(api, mid, "SM44", "undelivered", ErrorCode="30003")
    failed = message(api, mid)
    assert failed.state == S.UNDELIVERED and failed.last_error_code == "30003"
    assert failed.reason == "twilio: undelivered (error 30003)"


def test_error_21610_closes_sms_consent(api: Api) -> None:
    patient = api.patient()
    mid = sent_message(api, patient, "sms", "SM45")
    status(api, mid, "SM45", "failed", ErrorCode="21610")
    assert message(api, mid).state == S.FAILED
    assert consent(api, patient["id"], "sms").source == "twilio-21610"
    assert consent(api, patient["id"], "sms").granted is False


def test_unknown_or_superseded_message_ids_answer_200(api: Api) -> None:
    assert status(api, 999999, "SMx", "delivered").status_code == 200
    mid = sent_message(api, api.patient(), "sms", "SMnew")
    assert status(api, mid, "SMold", "failed").status_code == 200
    assert message(api, mid).state == S.SENT


def test_a_duplicate_status_callback_changes_nothing(api: Api) -> None:
    patient = api.patient()
    mid = sent_message(api, patient, "sms", "SM46")
    token = {"I-Twilio-Idempotency-Token": "idem-1"}
    params = {"MessageSid": "SM46", "MessageStatus": "failed", "ErrorCode": "21610"}
    api.twilio(f"/webhooks/twilio/status/{mid}", params, headers=token)
    api.put(
        f"/patients/{patient['id']}/consents/sms",
        json={
            "granted": True,
            "source": "phone-call",
            "notice": "notice-v2",
            "reason": "patient asked to get texts again",
        },
    )
    again = api.twilio(f"/webhooks/twilio/status/{mid}", params, headers=token)
    assert again.status_code == 200
    assert consent(api, patient["id"], "sms").granted is True
    fresh = {"I-Twilio-Idempotency-Token": "idem-2"}  # unsigned: a replay can choose it
    replayed = api.twilio(f"/webhooks/twilio/status/{mid}", params, headers=fresh)
    assert replayed.status_code == 200
    assert consent(api, patient["id"], "sms").granted is True


# -- SendGrid events ---------------------------------------------------------------------


def event(message_id: int, kind: str, event_id: str, **extra: Any) -> dict[str, Any]:
    return {
        "email": "ana@example.org",
        "timestamp": int(NOW.timestamp()) + 60,  # after the test's consents were recorded
        "event": kind,
        "sg_event_id": event_id,
        "sg_message_id": "sgid.filter0001",
        "engage_message_id": str(message_id),
        **extra,
    }


def test_sendgrid_events_without_a_valid_signature_are_403(api: Api) -> None:
    mid = sent_message(api, api.patient(), "email", "sgid")
    assert api.sendgrid([event(mid, "delivered", "e1")], signature="bm9wZQ==").status_code == 403
    assert api.sendgrid([event(mid, "delivered", "e1")], signature="%%%").status_code == 403
    bare = api.client.post("/webhooks/sendgrid/events", json=[event(mid, "delivered", "e1")])
    assert bare.status_code == 403
    assert message(api, mid).state == S.SENT


def test_sendgrid_delivered_then_open_then_late_processed(api: Api) -> None:
    mid = sent_message(api, api.patient(), "email", "sgid")
    answer = api.sendgrid(
        [event(mid, "delivered", "e1"), event(mid, "open", "e2"), event(mid, "processed", "e3")]
    )
    assert answer.json() == {"received": 3, "applied": 2}
    opened = message(api, mid)
    assert opened.state == S.DELIVERED and opened.provider_status == "open"


@pytest.mark.parametrize(
    ("kind", "source"),
    [
        ("bounce", "sendgrid-bounce"),
        ("spamreport", "sendgrid-spamreport"),
        ("unsubscribe", "sendgrid-unsubscribe"),
    ],
)
def test_bounce_spamreport_and_unsubscribe_close_the_email_channel(
    api: Api, kind: str, source: str
) -> None:
    patient = api.patient()
    mid = sent_message(api, patient, "email", "sgid")
    api.sendgrid([event(mid, kind, "e1", status="5.1.1")])
    closed = consent(api, patient["id"], "email")
    assert closed.granted is False and closed.source == source
    assert consent(api, patient["id"], "sms").granted is True


def test_bounce_marks_the_message_undelivered_and_dropped_failed(api: Api) -> None:
    bounced = sent_message(api, api.patient(), "email", "sgid")
    dropped = sent_message(api, api.patient(), "email", "sgid2")
    api.sendgrid([event(bounced, "bounce", "e1", status="5.1.1"), event(dropped, "dropped", "e2")])
    assert message(api, bounced).state == S.UNDELIVERED
    assert message(api, bounced).last_error_code == "5.1.1"
    assert message(api, dropped).state == S.FAILED


def test_a_redelivered_sendgrid_event_changes_nothing(api: Api) -> None:
    patient = api.patient()
    mid = sent_message(api, patient, "email", "sgid")
    api.sendgrid([event(mid, "unsubscribe", "same-id")])
    api.put(
        f"/patients/{patient['id']}/consents/email",
        json={
            "granted": True,
            "source": "front-desk",
            "notice": "notice-v2",
            "reason": "patient re-subscribed at the front desk",
        },
    )
    again = api.sendgrid([event(mid, "unsubscribe", "same-id")])
    assert again.json() == {"received": 1, "applied": 0}
    assert consent(api, patient["id"], "email").granted is True


def test_events_for_unknown_messages_are_acknowledged(api: Api) -> None:
    answer = api.sendgrid(
        [event(424242, "delivered", "e1"), {"event": "delivered", "sg_event_id": "e2"}]
    )
    assert answer.status_code == 200 and answer.json() == {"received": 2, "applied": 0}


# -- one-click unsubscribe ---------------------------------------------------------------


def test_unsubscribe_get_only_shows_a_confirm_page(api: Api) -> None:
    patient = api.patient()
    mid = sent_message(api, patient, "email", "sgid")
    page = api.client.get(f"/unsubscribe/{mid}/{unsubscribe_token(mid, SIGNING_SECRET)}")
    assert page.status_code == 200 and "Unsubscribe" in page.text and "<form" in page.text
    assert consent(api, patient["id"], "email").granted is True


def test_one_click_post_closes_email(api: Api) -> None:
    patient = api.patient()
    mid = sent_message(api, patient, "email", "sgid")
    url = f"/unsubscribe/{mid}/{unsubscribe_token(mid, SIGNING_SECRET)}"
    answer = api.client.post(url, data={"List-Unsubscribe": "One-Click"})
    assert answer.status_code == 200
    closed = consent(api, patient["id"], "email")
    assert closed.granted is False and closed.source == "email-unsubscribe"
    assert consent(api, patient["id"], "sms").granted is True


def test_unsubscribe_with_a_forged_token_is_403(api: Api) -> None:
    patient = api.patient()
    mid = sent_message(api, patient, "email", "sgid")
    other = unsubscribe_token(mid + 1, SIGNING_SECRET)
    answer = api.client.post(f"/unsubscribe/{mid}/{other}", data={"List-Unsubscribe": "One-Click"})
    assert answer.status_code == 403
    assert consent(api, patient["id"], "email").granted is True


def test_an_older_sendgrid_event_never_overrides_a_newer_consent(api: Api) -> None:
    patient = api.patient()
    mid = sent_message(api, patient, "email", "sgid")
    late = event(mid, "bounce", "late-1", timestamp=int(NOW.timestamp()) - 3600)
    assert api.sendgrid([late]).status_code == 200
    assert consent(api, patient["id"], "email").granted is True
