"""Consent per channel: the only way it changes, whether staff, a STOP or a bounce changes it.

Every change records when, the source (`intake-form`, `sms-stop`, `sendgrid-bounce`, ...) and,
when granting, which "SMS and email are not encrypted" notice the patient acknowledged; the
audit log keeps the history. Setting a consent to what it already is changes nothing.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from engage.api import deps, errors
from engage.api.auth import Principal, require_role
from engage.api.fields import Id
from engage.api.patient_models import Channel, ConsentChange, ConsentOut
from engage.api.patients import load_patient
from engage.errors import InvalidInput
from engage.store.audit import audit
from engage.store.patients import Consent, Patient

router = APIRouter(tags=["consent"], responses=errors.responses(400, 401, 403))
Staff = Annotated[Principal, Depends(require_role("staff"))]
Sessions = Annotated[sessionmaker[Session], Depends(deps.sessions)]
Now = Annotated[Any, Depends(deps.now)]


def set_consent(
    session: Session,
    patient_id: int,
    channel: str,
    *,
    granted: bool,
    source: str,
    actor: str,
    now: datetime,
    notice: str = "",
) -> bool:
    """Record one consent decision in the caller's transaction; False when nothing changed."""
    consent = session.execute(
        select(Consent).where(Consent.patient_id == patient_id, Consent.channel == channel)
    ).scalar_one_or_none()
    before = None if consent is None else {"granted": consent.granted, "source": consent.source}
    unchanged = consent is not None and consent.granted == granted
    if unchanged and (not granted or notice in ("", consent.notice if consent else "")):
        return False
    if consent is None:
        consent = Consent(patient_id=patient_id, channel=channel, notice="")
        session.add(consent)
    consent.granted = granted
    consent.changed_at = now
    consent.source = source[:32]
    if granted and notice:
        consent.notice = notice
    audit(
        session,
        actor=actor,
        action=f"consent.{'granted' if granted else 'closed'}",
        entity="patient",
        entity_id=patient_id,
        before={"channel": channel, **before} if before else None,
        after={"channel": channel, "granted": granted, "source": consent.source},
        at=now,
    )
    session.flush()
    return True


@router.get(
    "/patients/{patient_id}/consents",
    response_model=list[ConsentOut],
    responses=errors.responses(404, 422),
)
def list_consents(patient_id: Id, who: Staff, sessions: Sessions) -> list[ConsentOut]:
    with sessions() as session:
        return [ConsentOut.of(c) for c in load_patient(session, patient_id).consents]


@router.put(
    "/patients/{patient_id}/consents/{channel}",
    response_model=ConsentOut,
    responses=errors.responses(404, 422),
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
        set_consent(
            session,
            patient.id,
            channel,
            granted=body.granted,
            source=body.source,
            actor=who.actor,
            now=now,
            notice=body.notice,
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
