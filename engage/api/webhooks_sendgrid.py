"""SendGrid's signed event webhook: delivery, bounces, spam reports, unsubscribes, opens, clicks.

The signature is ECDSA (P-256, SHA-256) over `timestamp + body`, checked with the SDK's
EventWebhook and the public key from settings. What the events mean (delivery progress,
email closed by a bounce, a spam report or an unsubscribe) is engage.inbound.sendgrid_events.
"""

from __future__ import annotations

import binascii
import json
from functools import lru_cache
from typing import Annotated, Any

from cryptography.exceptions import UnsupportedAlgorithm
from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel
from sendgrid.helpers.eventwebhook import EventWebhook

from engage.api import deps, errors
from engage.api.params import Now, Sessions
from engage.inbound import sendgrid_events as email_events

router = APIRouter(tags=["webhooks"])
SIGNATURE = "X-Twilio-Email-Event-Webhook-Signature"
TIMESTAMP = "X-Twilio-Email-Event-Webhook-Timestamp"
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
    with sessions.begin() as session:
        applied = email_events.apply_all(session, events, now)
    return Received(received=len(events), applied=applied)
