"""Verifying that a request really comes from Twilio: `X-Twilio-Signature` over the public URL.

Twilio signs the URL it called, which is our public URL (behind a proxy, not the address the
app sees), so the URL is rebuilt from settings. Anything unverifiable is refused with 403.
"""

from __future__ import annotations

from fastapi import HTTPException, Request
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
    """The request's form fields, once its signature checks out; else HTTP 403."""
    token = deps.settings(request).twilio_auth_token
    signature = request.headers.get("X-Twilio-Signature", "")
    form = await request.form()
    fields = {key: value for key, value in form.multi_items() if isinstance(value, str)}
    algorithm = get_signature_algorithm(request.headers.get("X-Twilio-Webhooks-Signature-Settings"))
    if not (token and signature) or not RequestValidator(token).validate(
        public_url_of(request), fields, signature, algorithm
    ):
        raise HTTPException(403, "invalid or missing X-Twilio-Signature")
    return fields
