"""Staff's door to consent per channel; the rules and the writes are in engage.consent.service.

Granting records which "SMS and email are not encrypted" notice the patient acknowledged. A
channel the patient closed themselves (STOP, unsubscribe, bounce, ...) is re-opened only with
new express consent: a `reason` besides the source, recorded in the audit log with who.
"""

from __future__ import annotations

from fastapi import APIRouter

from engage.api import errors
from engage.api.fields import Id
from engage.api.params import READ, Db, Now, Sessions, Staff
from engage.api.patient_models import Channel, ConsentChange, ConsentEventOut, ConsentOut
from engage.api.patients import load_patient
from engage.consent import service
from engage.errors import Conflict, InvalidInput
from engage.store.patients import Patient

router = APIRouter(tags=["consent"], responses=errors.responses(400, 401, 403))


@router.get("/patients/{patient_id}/consents", response_model=list[ConsentOut], responses=READ)
def list_consents(patient_id: Id, who: Staff, session: Db) -> list[ConsentOut]:
    return [ConsentOut.of(c) for c in load_patient(session, patient_id).consents]


@router.get(
    "/patients/{patient_id}/consent-history", response_model=list[ConsentEventOut], responses=READ
)
def consent_history(patient_id: Id, who: Staff, session: Db) -> list[ConsentEventOut]:
    """The append-only consent ledger of one patient, oldest first (`engage patients consent`)."""
    patient = load_patient(session, patient_id)
    return [ConsentEventOut.of(e) for e in service.history(session, patient.id)]


@router.put(
    "/patients/{patient_id}/consents/{channel}",
    response_model=ConsentOut,
    responses=errors.responses(404, 409, 422),
)
def change_consent(
    patient_id: Id,
    channel: Channel,
    body: ConsentChange,
    who: Staff,
    sessions: Sessions,
    now: Now,
) -> ConsentOut:
    """Grant or withdraw consent on one channel; granting needs the notice acknowledged."""
    with sessions.begin() as session:
        patient = load_patient(session, patient_id)
        if body.granted:
            _check_grantable(patient, channel, body.notice)
        express = bool(body.reason.strip())
        outcome = service.change(
            session,
            patient.id,
            channel,
            granted=body.granted,
            source=body.source,
            actor=who.actor,
            now=now,
            origin=service.Origin.EXPRESS if express else service.Origin.STAFF,
            notice=body.notice,
            reason=body.reason.strip(),
        )
        if outcome.refused:
            raise Conflict(
                f"{channel}: {outcome.refused}; only the patient, or new express consent "
                "recorded with a reason, re-opens it"
            )
        session.expire(patient, ["consents"])
        consent = patient.consent(channel)
        assert consent is not None
        return ConsentOut.of(consent)


def _check_grantable(patient: Patient, channel: str, notice: str) -> None:
    if not patient.address(channel):
        missing = "phone" if channel == "sms" else "email"
        raise InvalidInput("granted", f"the patient has no {missing} for {channel}")
    if not notice.strip():
        raise InvalidInput(
            "notice", "required when granting: the unencrypted-channel notice acknowledged"
        )
