"""Email through SendGrid's official SDK: one `mail/send` per message, errors classified here.

Our message id travels as a custom arg on the personalization (the event webhook returns it);
the spec mistypes the top-level `custom_args` as a string, so we never send that one.
"""

from __future__ import annotations

import base64
import http.client
import logging
from typing import Any

import urllib3
from python_http_client.exceptions import HTTPError
from sendgrid import SendGridAPIClient
from sendgrid.helpers.mail import (
    Attachment,
    CustomArg,
    Disposition,
    FileContent,
    FileName,
    FileType,
    Header,
    Mail,
    SendGridException,
)

from engage.channels.base import Outgoing, Receipt
from engage.channels.retry_after import parse_reset_epoch, parse_retry_after
from engage.channels.sendgrid_http import pooled_client
from engage.channels.transport import transport_error
from engage.errors import ConfigError, DeliveryError
from engage.settings import Settings

SENDGRID_API = "https://api.sendgrid.com"
MESSAGE_ID_ARG = "engage_message_id"

PERMANENT_STATUSES: dict[int, str] = {
    400: "request rejected (invalid address or payload)",
    401: "API key rejected",
    403: "forbidden (unverified sender or key scope)",
    404: "endpoint not found",
    413: "payload too large",
}
RETRYABLE_STATUSES: dict[int, str] = {
    429: "rate limited",
    500: "SendGrid internal error",
    502: "bad gateway",
    503: "service unavailable",
    504: "gateway timeout",
}


def classify(status: int, headers: Any = None) -> DeliveryError:
    """Turn SendGrid's HTTP status into a DeliveryError; 429 and 5xx retry, other 4xx do not."""
    code = str(status)
    if status in RETRYABLE_STATUSES or status >= 500:
        headers = headers or {}
        wait = parse_retry_after(headers.get("Retry-After"))
        if wait is None:
            wait = parse_reset_epoch(headers.get("X-RateLimit-Reset"))
        reason = f"sendgrid {code}: {RETRYABLE_STATUSES.get(status, f'HTTP {status}')}"
        return DeliveryError(reason, permanent=False, retry_after=wait, code=code)
    why = PERMANENT_STATUSES.get(status, f"HTTP {status}")
    return DeliveryError(f"sendgrid {code}: {why}", permanent=True, code=code)


class SendGridChannel:
    name = "sendgrid"

    def __init__(self, settings: Settings) -> None:
        if not settings.sendgrid_from:
            raise ConfigError("ENGAGE_SENDGRID_FROM: required when ENGAGE_SENDGRID_API_KEY is set")
        self._from = settings.sendgrid_from
        host = (settings.sendgrid_base_url or SENDGRID_API).rstrip("/")
        self._client = SendGridAPIClient(settings.sendgrid_api_key, host=host)
        # The SDK's client, on a keep-alive pool (sendgrid_http.py says why and how).
        self._client.client = pooled_client(
            host, settings.send_timeout_seconds, settings.provider_calls
        )
        self._client.reset_request_headers()  # the SDK's own auth and User-Agent headers
        # The SDK logs whole request payloads (addresses, bodies) at DEBUG: keep them out.
        logging.getLogger("python_http_client").setLevel(logging.INFO)

    def send(self, message: Outgoing) -> Receipt:
        try:
            body = build_mail(self._from, message).get()
        except (SendGridException, KeyError, TypeError, ValueError) as exc:
            # The SDK refuses a malformed address, or a body that contains an API key.
            reason = f"sendgrid: the SDK refused the message ({type(exc).__name__})"
            raise DeliveryError(reason, permanent=True, code="invalid") from None
        try:
            response = self._client.send(body)
        except HTTPError as exc:
            raise classify(exc.status_code, exc.headers) from None
        except (urllib3.exceptions.HTTPError, OSError, http.client.HTTPException) as exc:
            raise transport_error("sendgrid", exc) from None
        return Receipt(provider=self.name, provider_id=response.headers.get("X-Message-Id", ""))


def build_mail(sender: str, message: Outgoing) -> Mail:
    """The SDK's Mail for one message: plain text + HTML, one-click unsubscribe, our id."""
    mail = Mail(
        from_email=sender,
        to_emails=message.to,
        subject=message.subject,
        plain_text_content=message.body,
        html_content=message.html or None,
    )
    mail.add_custom_arg(CustomArg(MESSAGE_ID_ARG, str(message.message_id), p=0))
    if message.unsubscribe_url:
        # RFC 8058 one-click: mail clients POST to the URL without opening a page.
        mail.add_header(Header("List-Unsubscribe", f"<{message.unsubscribe_url}>"))
        mail.add_header(Header("List-Unsubscribe-Post", "List-Unsubscribe=One-Click"))
    for item in message.attachments:
        mail.add_attachment(
            Attachment(
                FileContent(base64.b64encode(item.content).decode("ascii")),
                FileName(item.filename),
                FileType(item.content_type),
                Disposition("attachment"),
            )
        )
    return mail
