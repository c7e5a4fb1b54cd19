"""One-click email unsubscribe (RFC 8058), reached from the link in every email we send.

Mail clients POST `List-Unsubscribe=One-Click` to the link without showing anything; a person
who clicks the link in the email gets a GET, which only shows a confirm button (link scanners
and previews issue GETs, so a GET must never unsubscribe). The token in the link is an HMAC of
the message id: no login, and no way to unsubscribe someone else.
"""

from __future__ import annotations

from html import escape
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from engage.api import deps, errors
from engage.api.fields import Id
from engage.api.params import Now, Sessions
from engage.consent import service
from engage.consent import unsubscribe_tokens as links
from engage.logs import get_logger
from engage.store.messages import Message

log = get_logger("engage.consent.unsubscribe_tokens")
router = APIRouter(tags=["unsubscribe"], responses=errors.responses(400))
_PAGES: dict[int | str, dict[str, Any]] = {
    code: {"description": what, "content": {"text/html": {}}}
    for code, what in (
        (200, "a page for the patient"),
        (403, "the link is not valid"),
        (404, "the message no longer exists"),
    )
}
FORM_BODY = {
    "requestBody": {
        "required": False,
        "content": {
            "application/x-www-form-urlencoded": {
                "schema": {
                    "type": "object",
                    "properties": {"List-Unsubscribe": {"type": "string", "enum": ["One-Click"]}},
                }
            }
        },
    }
}


def _page(title: str, text: str, status: int = 200, form: str = "") -> HTMLResponse:
    html = (
        '<!doctype html><html><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{escape(title)}</title></head>"
        f'<body style="font-family: sans-serif; max-width: 32em; margin: 3em auto">'
        f"<h1>{escape(title)}</h1><p>{escape(text)}</p>{form}</body></html>"
    )
    return HTMLResponse(html, status_code=status)


def _checked(request: Request, message_id: int, token: str) -> HTMLResponse | None:
    secret = deps.settings(request).signing_secret
    if not token.isascii() or not links.verify(message_id, token, secret):
        return _page("Link not valid", "This unsubscribe link is not valid.", 403)
    return None


@router.get(
    "/unsubscribe/{message_id}/{token}",
    response_class=HTMLResponse,
    responses=_PAGES,
    summary="Confirm page for the unsubscribe link (changes nothing)",
)
def confirm_page(message_id: Id, token: str, request: Request) -> HTMLResponse:
    refused = _checked(request, message_id, token)
    if refused is not None:
        return refused
    clinic = deps.runtime(request).schedule.clinic
    form = (
        f'<form method="post" action="{escape(str(request.url.path))}">'
        '<input type="hidden" name="List-Unsubscribe" value="One-Click">'
        '<button type="submit">Unsubscribe</button></form>'
    )
    text = f"Stop receiving emails from {clinic.name}? Text messages are not affected."
    return _page("Unsubscribe", text, form=form)


@router.post(
    "/unsubscribe/{message_id}/{token}",
    response_class=HTMLResponse,
    responses=_PAGES,
    openapi_extra=FORM_BODY,
    summary="RFC 8058 one-click unsubscribe: closes the patient's email channel",
)
def one_click(
    message_id: Id, token: str, request: Request, sessions: Sessions, now: Now
) -> HTMLResponse:
    refused = _checked(request, message_id, token)
    if refused is not None:
        return refused
    with sessions.begin() as session:
        message = session.get(Message, message_id)
        if message is None:
            return _page("Link expired", "This unsubscribe link is no longer valid.", 404)
        service.change(
            session,
            message.patient_id,
            "email",
            granted=False,
            source="email-unsubscribe",
            actor="patient",
            now=now,
            origin=service.Origin.PATIENT,
        )
    log.info("email.unsubscribed", message_id=message_id)
    clinic = deps.runtime(request).schedule.clinic
    return _page("Unsubscribed", f"You will receive no more emails from {clinic.name}.")
