"""STOP and START by SMS: the patient's own decision on the SMS channel, through the consent owner.

A STOP is answered once per opt-out: the first STOP closes SMS consent and gets the carrier's
required answer; repeats from the same number while it stays closed get none (they would cost a
segment each and read as spam).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from engage.consent import service
from engage.consent.keywords import Keyword
from engage.store.inbound import InboundMessage
from engage.store.patients import Patient

ACTOR = "twilio"


def stop(session: Session, patient: Patient | None, inbound: InboundMessage, now: datetime) -> bool:
    """Close SMS consent; True when this STOP is the first since it closed (it gets answered)."""
    if patient is not None and _change(session, patient, granted=False, now=now):
        return True
    consent = patient.consent("sms") if patient is not None else None
    earlier = select(InboundMessage.id).where(
        InboundMessage.from_hash == inbound.from_hash,
        InboundMessage.keyword == Keyword.STOP.value,
        InboundMessage.id != inbound.id,
    )
    if consent is not None:
        earlier = earlier.where(InboundMessage.received_at >= consent.changed_at)
    return session.execute(earlier.limit(1)).first() is None


def start(session: Session, patient: Patient | None, now: datetime) -> None:
    """Re-open SMS for a known patient (an unknown number's START is answered all the same)."""
    if patient is not None:
        _change(session, patient, granted=True, now=now)


def _change(session: Session, patient: Patient, *, granted: bool, now: datetime) -> bool:
    outcome = service.change(
        session,
        patient.id,
        "sms",
        granted=granted,
        source="sms-start" if granted else "sms-stop",
        actor=ACTOR,
        now=now,
        origin=service.Origin.PATIENT,
    )
    return outcome.changed
