"""Consent on the patient's page: staff record express consent with a reason, the ledger shows
every decision, and a patient's own STOP is re-opened only by that path."""

from __future__ import annotations

from sqlalchemy import select

from engage.consent import service as consent_service
from engage.store import Patient
from engage.store.patients import ConsentEvent
from tests.api_kit import NOW
from tests.console_kit import Console


def _patient(console: Console, *, stopped: bool = False) -> int:
    with console.sessions.begin() as s:
        patient = Patient(
            first_name="Ana",
            last_name="Ruiz",
            phone="+14155550123",
            timezone="America/Chicago",
            locale="en",
            preferred_channel="sms",
        )
        s.add(patient)
        s.flush()
        if stopped:
            consent_service.change(
                s,
                patient.id,
                "sms",
                granted=False,
                source="sms-stop",
                actor="twilio",
                now=NOW,
                origin=consent_service.Origin.PATIENT,
            )
        return patient.id


GRANT = {
    "channel": "sms",
    "decision": "grant",
    "source": "phone-call",
    "reason": "Called the clinic, asked for texts again",
    "notice": "1",
}


def _events(console: Console, patient_id: int) -> list[ConsentEvent]:
    with console.sessions() as s:
        return list(s.scalars(select(ConsentEvent).where(ConsentEvent.patient_id == patient_id)))


def test_staff_record_express_consent_and_the_ledger_shows_who_why_and_when(
    staff: Console,
) -> None:
    pid = _patient(staff)
    page = staff.client.get(f"/console/patients/{pid}").text
    assert f'action="/console/patients/{pid}/consent"' in page
    answer = staff.post(f"/console/patients/{pid}/consent", GRANT)
    assert answer.status_code == 303
    page = staff.client.get(answer.headers["location"]).text
    assert "SMS consent granted." in page
    ledger = page[page.index("Consent ledger") :]
    assert "Called the clinic, asked for texts again" in ledger and "console:staff" in ledger
    # The source in words staff read, not its stored slug ("phone-call").
    assert "Phone call with the patient" in ledger and "phone-call" not in ledger
    assert "(express)" in ledger and "CST" in ledger
    [event] = _events(staff, pid)
    assert (event.granted, event.origin, event.actor) == (True, "express", "console:staff")
    assert event.notice == "unencrypted-notice-v1"


def test_a_missing_reason_source_or_notice_is_shown_at_its_field_and_nothing_is_stored(
    staff: Console,
) -> None:
    pid = _patient(staff)
    answer = staff.post(
        f"/console/patients/{pid}/consent", GRANT | {"reason": "", "source": "", "notice": ""}
    )
    assert answer.status_code == 422
    for field in ("ce-reason", "ce-source", "ce-notice"):
        assert f'id="{field}"' in answer.text, field
    assert "Nothing was recorded" in answer.text
    assert _events(staff, pid) == []


def test_a_patients_stop_is_named_and_reopened_only_with_a_reason(staff: Console) -> None:
    pid = _patient(staff, stopped=True)
    page = staff.client.get(f"/console/patients/{pid}").text
    assert "SMS: patient texted STOP on 2027-03-10." in page
    refused = staff.post(f"/console/patients/{pid}/consent", GRANT | {"reason": ""})
    assert refused.status_code == 422 and 'id="ce-reason"' in refused.text
    with staff.sessions() as s:
        assert consent_service.current(s, pid, "sms").granted is False
    answer = staff.post(f"/console/patients/{pid}/consent", GRANT)
    assert answer.status_code == 303
    with staff.sessions() as s:
        current = consent_service.current(s, pid, "sms")
        assert current.granted is True and current.source == "phone-call"
    assert [e.origin for e in _events(staff, pid)] == ["patient", "express"]


def test_granting_a_channel_without_an_address_is_refused_at_the_channel(staff: Console) -> None:
    pid = _patient(staff)
    answer = staff.post(f"/console/patients/{pid}/consent", GRANT | {"channel": "email"})
    assert answer.status_code == 422 and "the patient has no email" in answer.text


def test_withdrawing_needs_no_notice_and_closes_the_channel(staff: Console) -> None:
    pid = _patient(staff)
    staff.post(f"/console/patients/{pid}/consent", GRANT)
    answer = staff.post(
        f"/console/patients/{pid}/consent",
        {"channel": "sms", "decision": "withdraw", "source": "front-desk", "reason": "No texts"},
    )
    assert answer.status_code == 303
    with staff.sessions() as s:
        assert consent_service.current(s, pid, "sms").granted is False
    page = staff.client.get(f"/console/patients/{pid}/consent")
    assert page.status_code == 200 and page.text.count("<tr><td>") >= 2
