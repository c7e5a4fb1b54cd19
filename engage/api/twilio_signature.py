"""Verifying that a request really comes from Twilio: `X-Twilio-Signature` over the public URL.

Twilio signs the URL it called, which is our public URL (behind a proxy, not the address the
app sees), so the URL is rebuilt from settings. Anything unverifiable is refused with 403.
"""

from __future__ import annotations

from urllib.parse import parse_qsl

from fastapi import HTTPException, Request
from fastapi.concurrency import run_in_threadpool
from twilio.request_validator import RequestValidator, get_signature_algorithm

from engage.api import deps

# What a Twilio webhook body looks like in OpenAPI; read by the dependency, not by FastAPI, so
# that an unsigned request is refused before its fields are even looked at.
FORM_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "application/x-www-form-urlencoded": {
                "schema": {"type": "object", "additionalProperties": {"type": "string"}}
            }
        },
    }
}


def public_url_of(request: Request) -> str:
    base = deps.settings(request).public_url.rstrip("/")
    query = f"?{request.url.query}" if request.url.query else ""
    return f"{base}{request.url.path}{query}"


async def twilio_form(request: Request) -> dict[str, str]:
    """The request's form fields, once its signature checks out; else HTTP 403.

    Only the read is async (bounded to 64 KiB by the Guard); parsing and the HMAC run in a
    thread, so no request's CPU work holds up the event loop and every other client.
    """
    body = await request.body()
    return await run_in_threadpool(
        _verified_fields,
        deps.settings(request).twilio_auth_token,
        public_url_of(request),
        body,
        request.headers.get("X-Twilio-Signature", ""),
        request.headers.get("X-Twilio-Webhooks-Signature-Settings"),
    )


def _verified_fields(
    token: str, url: str, body: bytes, signature: str, settings_header: str | None
) -> dict[str, str]:
    fields = dict(parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True))
    algorithm = get_signature_algorithm(settings_header)
    if not (token and signature) or not RequestValidator(token).validate(
        url, fields, signature, algorithm
    ):
        raise HTTPException(403, "invalid or missing X-Twilio-Signature")
    return fields
