"""A family on one phone: STOP closes SMS for each of them, START re-opens what STOP closed,
and a reply belongs to the patient whose message it answers (the latest sent to the number).

Before: phone was unique per patient, so a second family member could not be a patient; the
inbound handler took "the" patient of a number.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from engage.store import Consent, Message, MessageState
from engage.store.message_states import transition
from tests.api_kit import Api, build_api

S = MessageState
PHONE = "+14155550177"


@pytest.fixture
def api(db_url: str, tmp_path: Path) -> Api:
    return build_api(db_url, tmp_path)


def sms_open(api: Api, patient_id: int) -> tuple[bool, str] | None:
    with api.sessions() as s:
        found = s.scalars(
            select(Consent).where(Consent.patient_id == patient_id, Consent.channel == "sms")
        ).one_or_none()
        return None if found is None else (found.granted, found.source)


def family(api: Api, *names: str, sms: bool = True) -> list[dict[str, Any]]:
    return [api.patient(first_name=name, last_name="Reyes", phone=PHONE, sms=sms) for name in names]


def sent_to(api: Api, patient: dict[str, Any], sid: str, minutes_ago: float = 0) -> int:
    """Enroll the patient and mark their first message sent by SMS, as the worker would."""
    enrolled = api.post(f"/patients/{patient['id']}/enrollments", json={"sequence": "education"})
    assert enrolled.status_code == 201, enrolled.text
    at = api.clock() - timedelta(minutes=minutes_ago)
    with api.sessions.begin() as s:
        message = s.scalars(
            select(Message).where(Message.patient_id == patient["id"]).order_by(Message.id)
        ).first()
        assert message is not None
        message.channel = "sms"
        for state in (S.QUEUED, S.SENDING, S.SENT):
            transition(s, message, state, "test", "worker", at=at)
        message.sending_at = message.sent_at = at
        message.provider, message.provider_id = "twilio", sid
        return message.id


def test_stop_from_a_shared_number_closes_sms_for_every_patient_on_it(api: Api) -> None:
    ana, luis = family(api, "Ana", "Luis")
    other = api.patient()
    answer = api.sms_in(PHONE, "STOP")
    assert "<Message>" in answer.text  # answered once, for the number
    assert [sms_open(api, p["id"]) for p in (ana, luis)] == [(False, "sms-stop")] * 2
    assert sms_open(api, other["id"]) == (True, "intake-form")
    assert "<Message>" not in api.sms_in(PHONE, "STOP").text


def test_start_reopens_what_the_numbers_stop_closed_and_nothing_staff_closed(api: Api) -> None:
    ana, luis = family(api, "Ana", "Luis")
    [rosa] = family(api, "Rosa", sms=False)
    api.put(f"/patients/{rosa['id']}/consents/sms", json={"granted": False, "source": "phone"})
    api.sms_in(PHONE, "STOP")
    api.sms_in(PHONE, "START")
    assert [sms_open(api, p["id"])[0] for p in (ana, luis)] == [True, True]  # type: ignore[index]
    assert sms_open(api, rosa["id"]) == (False, "phone")


def test_a_reply_is_attributed_to_the_patient_of_the_latest_message_to_the_number(
    api: Api,
) -> None:
    ana, luis = family(api, "Ana", "Luis")
    for patient in (ana, luis):
        booked = api.post(
            f"/patients/{patient['id']}/appointments",
            json={"starts_at": "2027-03-20T10:00:00-07:00"},
        )
        assert booked.status_code == 201, booked.text
    sent_to(api, ana, "SMana", minutes_ago=30)
    sent_to(api, luis, "SMluis", minutes_ago=5)  # the latest: Luis's
    assert "confirmed" in api.sms_in(PHONE, "C").text
    states = {
        p["first_name"]: [a["state"] for a in api.get(f"/patients/{p['id']}/appointments").json()]
        for p in (ana, luis)
    }
    assert states == {"Ana": ["scheduled"], "Luis": ["confirmed"]}
    api.sms_in(PHONE, "Can my son come too?")
    [kept] = api.get("/inbox", params={"keyword": "other"}).json()
    assert kept["patient_id"] == luis["id"]


def test_21610_for_a_shared_number_closes_sms_for_each_patient_on_it(api: Api) -> None:
    ana, luis = family(api, "Ana", "Luis")
    mid = sent_to(api, ana, "SM610")
    params = {"MessageSid": "SM610", "MessageStatus": "failed", "ErrorCode": "21610"}
    assert api.twilio(f"/webhooks/twilio/status/{mid}", params).status_code == 200
    assert [sms_open(api, p["id"]) for p in (ana, luis)] == [(False, "twilio-21610")] * 2


# -- ordering: Twilio's inbound events carry no event time --------------------------------


def test_keywords_are_ordered_by_receipt_a_retried_stop_after_start_closes_again(
    api: Api,
) -> None:
    [ana] = family(api, "Ana")
    api.sms_in(PHONE, "STOP", sid="SMstop1")
    api.clock.advance(minutes=1)
    api.sms_in(PHONE, "START", sid="SMstart")
    assert sms_open(api, ana["id"]) == (True, "sms-start")
    api.clock.advance(minutes=1)
    api.sms_in(PHONE, "STOP", sid="SMstop1")  # a replay of a recorded STOP: nothing
    assert sms_open(api, ana["id"]) == (True, "sms-start")
    api.sms_in(PHONE, "STOP", sid="SMstop0")  # a STOP first received now: it counts now
    assert sms_open(api, ana["id"]) == (False, "sms-stop")


def test_a_21610_answering_a_send_older_than_the_patients_start_does_not_close_sms(
    api: Api,
) -> None:
    [ana] = family(api, "Ana")
    api.sms_in(PHONE, "STOP")
    mid = sent_to(api, ana, "SMold", minutes_ago=10)  # went out while the number was blocked
    api.sms_in(PHONE, "START")  # received after that send
    params = {"MessageSid": "SMold", "MessageStatus": "failed", "ErrorCode": "21610"}
    assert api.twilio(f"/webhooks/twilio/status/{mid}", params).status_code == 200
    assert sms_open(api, ana["id"]) == (True, "sms-start")
