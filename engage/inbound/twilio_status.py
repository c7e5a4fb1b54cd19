"""Twilio's status callback for an SMS we sent: the message's progress, and 21610 closing SMS.

De-duplicated on signed parameters only (MessageSid, status, ErrorCode): a replayed 21610 must
not close SMS again. An unknown or superseded message is acknowledged all the same, so Twilio
stops retrying.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session

from engage.consent import service
from engage.inbound.dedupe import first_delivery
from engage.inbound.delivery_events import apply_status
from engage.logs import get_logger
from engage.ops import metrics
from engage.store.messages import Message

log = get_logger("engage.inbound.twilio")
ACTOR = "twilio"
UNSUBSCRIBED = "21610"  # the number texted STOP to us: the patient's own opt-out


@dataclass(frozen=True)
class Status:
    """One status callback as Twilio sent it, for the message id in its URL."""

    message_id: int
    sid: str
    status: str  # lower case: "sent", "delivered", "undelivered", ...
    code: str = ""  # Twilio's ErrorCode, "" for none


def apply(session: Session, callback: Status, now: datetime) -> bool:
    """Apply `callback` once; True when it changed the message."""
    key = f"{callback.sid}:{callback.status}:{callback.code}"
    if not first_delivery(session, ACTOR, f"status:{key}", now):
        return False
    metrics.count_webhook("twilio", callback.status or "unknown")
    message = session.get(Message, callback.message_id)
    if message is None or _superseded(message, callback.sid):
        log.info("sms.status.ignored", message_id=callback.message_id, status=callback.status)
        return False
    changed = apply_status(
        session,
        message,
        callback.status,
        provider=ACTOR,
        provider_id=callback.sid,
        code=callback.code,
        now=now,
    )
    if callback.code == UNSUBSCRIBED:
        service.change(
            session,
            message.patient_id,
            "sms",
            granted=False,
            source="twilio-21610",
            actor=ACTOR,
            now=now,
            origin=service.Origin.PATIENT,
            # Twilio sends no event time: the block is as old as the send it answers, so a
            # START received since then stands (consent/precedence.py, "ordering").
            occurred_at=message.sending_at or message.sent_at,
        )
    log.info(
        "sms.status",
        message_id=callback.message_id,
        status=callback.status,
        code=callback.code,
        applied=changed,
    )
    return changed


def _superseded(message: Message, sid: str) -> bool:
    """The callback is for an earlier attempt than the one the message now records."""
    return bool(message.provider_id and sid and message.provider_id != sid)
