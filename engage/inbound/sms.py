"""An SMS a patient sends us: recorded once, its keyword acted on, and the answer to text back.

Idempotent on the provider's message id (signed content only: Twilio's idempotency header is not
signed, so a captured START replayed with a fresh header would otherwise re-open SMS after STOP).
A STOP closes SMS consent in the caller's transaction, the one that records the text, so no SMS
leaves after the patient's STOP was answered.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from engage.consent.keywords import Keyword, classify
from engage.inbound import keyword_consent
from engage.inbound.confirmations import confirm, next_appointment
from engage.inbound.dedupe import first_delivery
from engage.inbound.replies import local_when, reply
from engage.logs import get_logger
from engage.ops import metrics
from engage.patients.records import reply_owner
from engage.schedule.models import Clinic
from engage.store.inbound import InboundMessage
from engage.store.patients import Patient

log = get_logger("engage.inbound.sms")
ACTOR = "twilio"


@dataclass(frozen=True)
class Texted:
    """One SMS as the provider delivered it."""

    provider_id: str  # Twilio's MessageSid; "" when absent (then not de-duplicated)
    phone: str
    body: str


@dataclass(frozen=True)
class _Answering:
    """What a reply is rendered with: the clinic's words in the patient's language."""

    env: Any
    clinic: Clinic
    locale: str

    def text(self, kind: str, *, when: str = "") -> str:
        return reply(self.env, self.clinic, kind, self.locale, when=when)


def phone_hash(phone: str) -> str:
    """The number's stable stand-in for logs and joins (the number itself is PHI)."""
    return hashlib.sha256(phone.encode()).hexdigest()


def receive(
    session: Session, env: Any, clinic: Clinic, texted: Texted, now: datetime
) -> str | None:
    """Record `texted` and act on its keyword; the answer to send back, or None for none.

    A repeat delivery of the same message id changes nothing and is not answered.
    """
    if texted.provider_id and not first_delivery(
        session, ACTOR, f"inbound:{texted.provider_id}", now
    ):
        return None
    metrics.count_webhook("twilio", "inbound")
    keyword = classify(texted.body)
    patient = reply_owner(session, texted.phone)  # a shared phone: whose message it answers
    inbound = InboundMessage(
        patient_id=patient.id if patient else None,
        provider_id=texted.provider_id[:64],
        from_phone=texted.phone[:32],
        from_hash=phone_hash(texted.phone),
        body=texted.body,
        keyword=keyword.value,
        received_at=now,
    )
    session.add(inbound)
    session.flush()
    answering = _Answering(env, clinic, patient.locale if patient else clinic.default_locale)
    text = _answer(session, answering, keyword, patient, inbound, now)
    log.info(
        "sms.inbound",
        inbound_id=inbound.id,
        patient_id=patient.id if patient else None,
        keyword=keyword.value,
        answered=bool(text),
    )
    return text


def _answer(
    session: Session,
    answering: _Answering,
    keyword: Keyword,
    patient: Patient | None,
    inbound: InboundMessage,
    now: datetime,
) -> str | None:
    if keyword is Keyword.STOP:
        first = keyword_consent.stop(session, patient, inbound, now)
        return answering.text("stop") if first else None
    if keyword is Keyword.START:
        keyword_consent.start(session, patient, now)
        return answering.text("start")
    if keyword is Keyword.HELP:
        return answering.text("help")
    if keyword is Keyword.CONFIRM:
        return _confirm(session, answering, patient, now)
    return None


def _confirm(
    session: Session, answering: _Answering, patient: Patient | None, now: datetime
) -> str:
    """C confirms the patient's next appointment still to come; "nothing" when there is none."""
    appointment = next_appointment(session, patient.id, now) if patient else None
    if patient is None or appointment is None:
        return answering.text("nothing")
    confirm(session, appointment, now=now, actor=ACTOR)
    when = local_when(appointment.starts_at, patient.timezone, answering.locale)
    return answering.text("confirmed", when=when)
