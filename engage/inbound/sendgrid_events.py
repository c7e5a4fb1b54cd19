"""SendGrid's events for email we sent: delivery progress, and what closes the email channel.

Each event is applied once (keyed by `sg_event_id`) and finds its message by our own id, the
custom arg `engage_message_id`. A bounce, a spam report or an unsubscribe closes the patient's
email, unless a newer decision stands (the event's signed timestamp says when it happened).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.orm import Session

from engage.channels.sendgrid import MESSAGE_ID_ARG
from engage.consent import service
from engage.inbound.dedupe import first_delivery
from engage.inbound.delivery_events import RANK, apply_status
from engage.logs import get_logger
from engage.ops import metrics
from engage.store.messages import Message

log = get_logger("engage.inbound.sendgrid")
ACTOR = "sendgrid"
# Events after which the patient must get no more email, and the consent source they record.
CLOSES_EMAIL = {
    "bounce": "sendgrid-bounce",
    "spamreport": "sendgrid-spamreport",
    "unsubscribe": "sendgrid-unsubscribe",
    "group_unsubscribe": "sendgrid-unsubscribe",
}


def apply_all(session: Session, events: Iterable[dict[str, Any]], now: datetime) -> int:
    """Apply a delivery's events in the caller's transaction; how many changed something."""
    received = applied = 0
    for event in events:
        received += 1
        applied += apply(session, event, now)
    log.info("email.events", received=received, applied=applied)
    return applied


def apply(session: Session, event: dict[str, Any], now: datetime) -> bool:
    """Apply one event; True when it changed a message or a consent (not a repeat, not unknown)."""
    kind = str(event.get("event", ""))
    sg_message_id = str(event.get("sg_message_id") or "")
    event_id = str(event.get("sg_event_id") or f"{sg_message_id}:{kind}:{event.get('timestamp')}")
    if not first_delivery(session, ACTOR, event_id, now):
        return False
    metrics.count_webhook("sendgrid", kind or "unknown")
    message = _message(session, event.get(MESSAGE_ID_ARG))
    if message is None:
        return False  # not ours, or an id we no longer know: acknowledged all the same
    changed = kind in RANK and apply_status(
        session,
        message,
        kind,
        provider=ACTOR,
        provider_id=sg_message_id.split(".")[0],
        code=str(event.get("status") or ""),
        now=now,
    )
    if kind in CLOSES_EMAIL:
        changed = _close_email(session, message.patient_id, event, now) or changed
    return changed


def _close_email(session: Session, patient_id: int, event: dict[str, Any], now: datetime) -> bool:
    outcome = service.change(
        session,
        patient_id,
        "email",
        granted=False,
        source=CLOSES_EMAIL[str(event.get("event"))],
        actor=ACTOR,
        now=now,
        origin=service.Origin.PATIENT,
        occurred_at=_occurred(event),
    )
    return outcome.changed


def _occurred(event: dict[str, Any]) -> datetime | None:
    """When the event happened (SendGrid's signed `timestamp`): an older one never overrides a
    newer consent decision, e.g. a late bounce after the patient re-subscribed."""
    stamp = event.get("timestamp")
    if not isinstance(stamp, int) or not 0 < stamp < 2**40:
        return None
    return datetime.fromtimestamp(stamp, UTC)


def _message(session: Session, value: object) -> Message | None:
    try:
        message_id = int(str(value))
    except ValueError:
        return None
    if not 0 < message_id < 2**63:
        return None
    return session.get(Message, message_id)
