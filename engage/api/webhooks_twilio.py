"""Twilio webhooks: SMS patients send us, and status callbacks for the SMS we sent.

Both are signed (see twilio_signature); the rules (de-duplication, keywords, consent, status
order) live in engage.inbound, which the same delivery twice leaves unchanged. Here: verify,
parse the form, answer TwiML.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request, Response
from twilio.twiml.messaging_response import MessagingResponse

from engage.api import deps, errors
from engage.api.fields import Id
from engage.api.params import Now, Sessions
from engage.api.twilio_signature import FORM_BODY, twilio_form
from engage.inbound import sms, twilio_status

router = APIRouter(tags=["webhooks"], responses=errors.responses(400))
Form = Annotated[dict[str, str], Depends(twilio_form)]
TWIML: dict[int | str, dict[str, Any]] = {
    200: {"description": "TwiML (a reply, or none)", "content": {"application/xml": {}}},
    403: {"description": "missing or invalid X-Twilio-Signature", "model": errors.Problem},
}


def twiml(text: str | None) -> Response:
    response = MessagingResponse()
    if text:
        response.message(text)
    return Response(str(response), media_type="application/xml")


@router.post(
    "/webhooks/twilio/sms",
    response_class=Response,
    responses=TWIML,
    openapi_extra=FORM_BODY,
    summary="Inbound SMS (set as the number's 'A message comes in' webhook)",
)
def inbound_sms(form: Form, request: Request, sessions: Sessions, now: Now) -> Response:
    texted = sms.Texted(form.get("MessageSid", ""), form.get("From", ""), form.get("Body", ""))
    clinic = deps.runtime(request).schedule.clinic
    with sessions.begin() as session:
        text = sms.receive(session, deps.templates(request), clinic, texted, now)
    return twiml(text)


@router.post(
    "/webhooks/twilio/status/{message_id}",
    response_class=Response,
    responses={**TWIML, **errors.responses(422)},
    openapi_extra=FORM_BODY,
    summary="Status callback of one SMS we sent (Twilio calls the URL given at send time)",
)
def status_callback(message_id: Id, form: Form, sessions: Sessions, now: Now) -> Response:
    callback = twilio_status.Status(
        message_id=message_id,
        sid=form.get("MessageSid") or form.get("SmsSid") or "",
        status=(form.get("MessageStatus") or form.get("SmsStatus") or "").lower(),
        code=form.get("ErrorCode", ""),
    )
    with sessions.begin() as session:
        twilio_status.apply(session, callback, now)
    return twiml(None)
