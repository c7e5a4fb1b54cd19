"""Twilio webhooks: SMS patients send us, and status callbacks for the SMS we sent.

Both are signed (see twilio_signature) and idempotent: the same delivery twice changes nothing.
A STOP closes SMS consent in the same transaction that records it, so no SMS leaves after the
patient's STOP was answered; a safety-critical message falls back to email at send time.
"""

from __future__ import annotations

import hashlib
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request, Response
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker
from twilio.twiml.messaging_response import MessagingResponse

from engage.api import deps, errors
from engage.api.confirmations import confirm, next_appointment
from engage.api.delivery_events import apply_status
from engage.api.fields import Id
from engage.api.sms_replies import local_when, reply
from engage.api.twilio_signature import FORM_BODY, twilio_form
from engage.api.webhook_dedupe import first_delivery
from engage.consent import service
from engage.consent.keywords import Keyword, classify
from engage.logs import get_logger
from engage.ops import metrics
from engage.schedule.models import Clinic
from engage.store.inbound import InboundMessage
from engage.store.messages import Message
from engage.store.patients import Patient

log = get_logger("engage.webhooks.twilio")
router = APIRouter(tags=["webhooks"], responses=errors.responses(400))
Form = Annotated[dict[str, str], Depends(twilio_form)]
Sessions = Annotated[sessionmaker[Session], Depends(deps.sessions)]
Now = Annotated[Any, Depends(deps.now)]
ACTOR = "twilio"
TWIML: dict[int | str, dict[str, Any]] = {
    200: {"description": "TwiML (a reply, or none)", "content": {"application/xml": {}}},
    403: {"description": "missing or invalid X-Twilio-Signature", "model": errors.Problem},
}


def twiml(text: str | None) -> Response:
    response = MessagingResponse()
    if text:
        response.message(text)
    return Response(str(response), media_type="application/xml")


def phone_hash(phone: str) -> str:
    return hashlib.sha256(phone.encode()).hexdigest()


@router.post(
    "/webhooks/twilio/sms",
    response_class=Response,
    responses=TWIML,
    openapi_extra=FORM_BODY,
    summary="Inbound SMS (set as the number's 'A message comes in' webhook)",
)
def inbound_sms(form: Form, request: Request, sessions: Sessions, now: Now) -> Response:
    # De-duplicated on signed content only: the I-Twilio-Idempotency-Token header is not signed,
    # so a captured START replayed with a fresh header would otherwise re-open SMS after STOP.
    key = form.get("MessageSid", "")
    phone, body = form.get("From", ""), form.get("Body", "")
    keyword = classify(body)
    clinic: Clinic = deps.runtime(request).schedule.clinic
    with sessions.begin() as session:
        if key and not first_delivery(session, ACTOR, f"inbound:{key}", now):
            return twiml(None)
        metrics.count_webhook("twilio", "inbound")
        patient = session.execute(select(Patient).where(Patient.phone == phone)).scalar()
        inbound = InboundMessage(
            patient_id=patient.id if patient else None,
            provider_id=form.get("MessageSid", "")[:64],
            from_phone=phone[:32],
            from_hash=phone_hash(phone),
            body=body,
            keyword=keyword.value,
            received_at=now,
        )
        session.add(inbound)
        session.flush()
        locale = patient.locale if patient else clinic.default_locale
        env = deps.templates(request)
        text = _answer(session, env, keyword, patient, inbound, clinic, locale, now)
        inbound_id = inbound.id
    log.info(
        "sms.inbound",
        inbound_id=inbound_id,
        patient_id=patient.id if patient else None,
        keyword=keyword.value,
        answered=bool(text),
    )
    return twiml(text)


def _answer(
    session: Session,
    env: Any,
    keyword: Keyword,
    patient: Patient | None,
    inbound: InboundMessage,
    clinic: Clinic,
    locale: str,
    now: datetime,
) -> str | None:
    if keyword is Keyword.STOP:
        return reply(env, clinic, "stop", locale) if _stop(session, patient, inbound, now) else None
    if keyword is Keyword.START:
        if patient is not None:
            service.change(
                session,
                patient.id,
                "sms",
                granted=True,
                source="sms-start",
                actor=ACTOR,
                now=now,
                origin=service.Origin.PATIENT,
            )
        return reply(env, clinic, "start", locale)
    if keyword is Keyword.HELP:
        return reply(env, clinic, "help", locale)
    if keyword is Keyword.CONFIRM:
        appointment = next_appointment(session, patient.id, now) if patient else None
        if patient is None or appointment is None:
            return reply(env, clinic, "nothing", locale)
        confirm(session, appointment, now=now, actor=ACTOR)
        when = local_when(appointment.starts_at, patient.timezone, locale)
        return reply(env, clinic, "confirmed", locale, when=when)
    return None


def _stop(
    session: Session, patient: Patient | None, inbound: InboundMessage, now: datetime
) -> bool:
    """Close SMS consent; True when this STOP is the first since it closed (it gets answered)."""
    if (
        patient is not None
        and service.change(
            session,
            patient.id,
            "sms",
            granted=False,
            source="sms-stop",
            actor=ACTOR,
            now=now,
            origin=service.Origin.PATIENT,
        ).changed
    ):
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


@router.post(
    "/webhooks/twilio/status/{message_id}",
    response_class=Response,
    responses={**TWIML, **errors.responses(422)},
    openapi_extra=FORM_BODY,
    summary="Status callback of one SMS we sent (Twilio calls the URL given at send time)",
)
def status_callback(
    message_id: Id, form: Form, request: Request, sessions: Sessions, now: Now
) -> Response:
    sid = form.get("MessageSid") or form.get("SmsSid") or ""
    status = (form.get("MessageStatus") or form.get("SmsStatus") or "").lower()
    code = form.get("ErrorCode", "")
    # Signed parameters only (see inbound_sms): a replayed 21610 must not close SMS again.
    key = f"{sid}:{status}:{code}"
    with sessions.begin() as session:
        if not first_delivery(session, ACTOR, f"status:{key}", now):
            return twiml(None)
        metrics.count_webhook("twilio", status or "unknown")
        message = session.get(Message, message_id)
        if message is None or (message.provider_id and sid and message.provider_id != sid):
            # Unknown or superseded: answer 200 all the same, so Twilio stops retrying.
            log.info("sms.status.ignored", message_id=message_id, status=status)
            return twiml(None)
        changed = apply_status(
            session, message, status, provider=ACTOR, provider_id=sid, code=code, now=now
        )
        if code == "21610":
            service.change(
                session,
                message.patient_id,
                "sms",
                granted=False,
                source="twilio-21610",
                actor=ACTOR,
                now=now,
                origin=service.Origin.PATIENT,
            )
    log.info("sms.status", message_id=message_id, status=status, code=code, applied=changed)
    return twiml(None)
