"""SendGrid's signed event webhook: delivery, bounces, spam reports, unsubscribes, opens, clicks.

The signature is ECDSA (P-256, SHA-256) over `timestamp + body`, checked with the SDK's
EventWebhook and the public key from settings. Events carry our message id as the custom arg
`engage_message_id`; each is applied once (keyed by `sg_event_id`). A bounce, a spam report or
an unsubscribe closes the patient's email channel.
"""

from __future__ import annotations

import binascii
import json
from datetime import UTC, datetime
from functools import lru_cache
from typing import Annotated, Any

from cryptography.exceptions import UnsupportedAlgorithm
from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel
from sendgrid.helpers.eventwebhook import EventWebhook
from sqlalchemy.orm import Session, sessionmaker

from engage.api import deps, errors
from engage.api.delivery_events import RANK, apply_status
from engage.api.webhook_dedupe import first_delivery
from engage.channels.sendgrid import MESSAGE_ID_ARG
from engage.consent import service
from engage.logs import get_logger
from engage.ops import metrics
from engage.store.messages import Message

log = get_logger("engage.webhooks.sendgrid")
router = APIRouter(tags=["webhooks"])
Sessions = Annotated[sessionmaker[Session], Depends(deps.sessions)]
Now = Annotated[Any, Depends(deps.now)]
ACTOR = "sendgrid"
SIGNATURE = "X-Twilio-Email-Event-Webhook-Signature"
TIMESTAMP = "X-Twilio-Email-Event-Webhook-Timestamp"
# Events after which the patient must get no more email, and the consent source they record.
CLOSES_EMAIL = {
    "bounce": "sendgrid-bounce",
    "spamreport": "sendgrid-spamreport",
    "unsubscribe": "sendgrid-unsubscribe",
    "group_unsubscribe": "sendgrid-unsubscribe",
}
JSON_BODY = {
    "requestBody": {
        "required": True,
        "content": {"application/json": {"schema": {"type": "array", "items": {"type": "object"}}}},
    }
}


class Received(BaseModel):
    received: int  # events in the delivery
    applied: int  # events that changed a message or a consent (not repeats, not unknown ids)


@lru_cache(maxsize=4)
def _verifier(public_key: str) -> EventWebhook:
    return EventWebhook(public_key)


async def signed_events(request: Request) -> list[dict[str, Any]]:
    """The delivery's events, once its signature checks out and is recent; else 403 (400 if
    not JSON). ECDSA and the parse run in a thread: a 4 MiB batch must not stall the loop."""
    settings = deps.settings(request)
    body = await request.body()
    return await run_in_threadpool(
        _verified_events,
        settings.sendgrid_webhook_public_key,
        request.headers.get(SIGNATURE),
        request.headers.get(TIMESTAMP),
        body,
        deps.now(request).timestamp(),
        settings.sendgrid_webhook_tolerance_seconds,
    )


def _verified_events(
    key: str, signature: str | None, timestamp: str | None, body: bytes, now: float, tolerance: int
) -> list[dict[str, Any]]:
    try:
        valid = bool(key and signature and timestamp) and _verifier(key).verify_signature(
            body.decode("utf-8"), signature, timestamp
        )
    except (ValueError, TypeError, binascii.Error, UnicodeDecodeError, UnsupportedAlgorithm):
        valid = False
    if not valid:
        raise HTTPException(403, f"invalid or missing {SIGNATURE}")
    # The timestamp is signed with the body: a captured delivery replayed later is refused.
    if not str(timestamp).isdigit() or abs(now - int(str(timestamp))) > tolerance:
        raise HTTPException(403, f"{TIMESTAMP} is more than {tolerance} s from now")
    try:
        events = json.loads(body)
    except (ValueError, RecursionError):
        raise HTTPException(400, "the body is not JSON (or is nested too deeply)") from None
    if not isinstance(events, list):
        raise HTTPException(400, "expected a JSON array of events")
    return [event for event in events if isinstance(event, dict)]


@router.post(
    "/webhooks/sendgrid/events",
    response_model=Received,
    responses={
        400: {"description": "signed, but not a JSON array", "model": errors.Problem},
        403: {"description": "missing, invalid or stale signature", "model": errors.Problem},
    },
    openapi_extra=JSON_BODY,
    summary="SendGrid event webhook (Settings > Mail Settings > Event Webhook, signed)",
)
def sendgrid_events(
    events: Annotated[list[dict[str, Any]], Depends(signed_events)],
    sessions: Sessions,
    now: Now,
) -> Received:
    applied = 0
    with sessions.begin() as session:
        for event in events:
            applied += _apply(session, event, now)
    log.info("email.events", received=len(events), applied=applied)
    return Received(received=len(events), applied=applied)


def _apply(session: Session, event: dict[str, Any], now: Any) -> bool:
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
        changed = (
            service.change(
                session,
                message.patient_id,
                "email",
                granted=False,
                source=CLOSES_EMAIL[kind],
                actor=ACTOR,
                now=now,
                origin=service.Origin.PATIENT,
                occurred_at=_occurred(event),
            ).changed
            or changed
        )
    return changed


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
