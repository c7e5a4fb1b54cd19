"""SMS through Twilio's official SDK: one `messages.create` per send, errors classified here.

Twilio's error codes: https://www.twilio.com/docs/api/errors. A 4xx names a problem with this
message or this account, so retrying cannot help; 429 and 5xx are Twilio's load and can.
The reason on a DeliveryError comes from our table, never from Twilio's message: that text
echoes the phone number.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import urllib3
from twilio.base.exceptions import TwilioRestException, TwilioServiceException
from twilio.rest import Client

from engage.channels.base import Outgoing, Receipt
from engage.channels.retry_after import parse_retry_after
from engage.channels.transport import transport_error
from engage.channels.twilio_http import UrllibHttpClient
from engage.errors import ConfigError, DeliveryError
from engage.settings import Settings

# Codes that say this message can never be sent as it is. 21610 also means the patient texted
# STOP: the caller must close SMS consent (it reads `DeliveryError.code`).
PERMANENT_CODES: dict[int, str] = {
    20003: "authentication failed",
    21211: "invalid 'To' phone number",
    21408: "sending to this region is not enabled",
    21602: "message body is required",
    21606: "'From' number cannot send to this destination",
    21608: "trial account: 'To' number is unverified",
    21610: "recipient unsubscribed (replied STOP)",
    21612: "'To' number cannot be reached from this sender",
    21614: "'To' number is not a mobile number",
    21617: "body exceeds the 1600-character limit",
    30002: "account suspended",
    30004: "message blocked",
    30005: "unknown destination handset",
    30006: "landline or unreachable carrier",
    30007: "filtered by the carrier",
}
LOOKUP_LIMIT = 1000  # at most this many of the recipient's latest messages are read
PAGE = 50
CLOCK_SKEW = timedelta(seconds=5)  # between our clock and Twilio's date_created (whole seconds)
# Codes that say "not now": the same message may go through later.
RETRYABLE: dict[int, str] = {
    20429: "too many requests",
    20500: "Twilio internal error",
    20503: "Twilio service unavailable",
    30001: "queue overflow",
    30003: "handset unreachable (off or out of coverage)",
    30008: "unknown error",
}


def classify(status: int, code: int | None, retry_after: float | None = None) -> DeliveryError:
    """Turn Twilio's HTTP status and error code into a DeliveryError; the table wins over status."""
    label = str(code or status)
    if code in PERMANENT_CODES:
        return DeliveryError(f"twilio {label}: {PERMANENT_CODES[code]}", permanent=True, code=label)
    if code in RETRYABLE or status == 429 or status >= 500:
        why = RETRYABLE.get(code or 0, f"HTTP {status}")
        return DeliveryError(
            f"twilio {label}: {why}", permanent=False, retry_after=retry_after, code=label
        )
    return DeliveryError(f"twilio {label}: HTTP {status}", permanent=True, code=label)


class TwilioChannel:
    name = "twilio"

    def __init__(self, settings: Settings) -> None:
        if not (settings.twilio_messaging_service_sid or settings.twilio_from):
            raise ConfigError(
                "ENGAGE_TWILIO_MESSAGING_SERVICE_SID or ENGAGE_TWILIO_FROM: one is required"
            )
        self._http = UrllibHttpClient(
            settings.twilio_base_url, settings.send_timeout_seconds, settings.provider_calls
        )
        self._client = Client(
            settings.twilio_account_sid,
            settings.twilio_auth_token,
            account_sid=settings.twilio_account_sid,
            http_client=self._http,
        )
        self._sender: dict[str, str] = (
            {"messaging_service_sid": settings.twilio_messaging_service_sid}
            if settings.twilio_messaging_service_sid
            else {"from_": settings.twilio_from}
        )
        self._callback_base = f"{settings.public_url.rstrip('/')}/webhooks/twilio/status"

    def send(self, message: Outgoing) -> Receipt:
        try:
            created = self._client.messages.create(
                to=message.to,
                body=message.body,
                status_callback=f"{self._callback_base}/{message.message_id}",
                **self._sender,
            )
        except (TwilioRestException, TwilioServiceException) as exc:
            wait = parse_retry_after(self._http.last_retry_after)
            raise classify(exc.status, exc.code, wait) from None
        except urllib3.exceptions.HTTPError as exc:
            raise transport_error("twilio", exc) from None
        return Receipt(provider=self.name, provider_id=str(created.sid))

    def find(self, message: Outgoing, since: datetime, until: datetime) -> tuple[Receipt, ...]:
        """Twilio's Messages list for the recipient, matched by creation time and our body.

        The Message resource carries no callback URL, so the body we rendered is the match. No
        `DateSent` filter: a message Twilio accepted but has not sent yet has no DateSent.
        """
        # date_created has whole seconds: one more second of slack on top of the clocks' skew.
        earliest, latest = since - CLOCK_SKEW, until + CLOCK_SKEW
        try:
            matches = _matching(self._client, message, earliest, latest)
        except (TwilioRestException, TwilioServiceException) as exc:
            raise DeliveryError(
                f"twilio {exc.status}: the Messages list failed", permanent=False, code="lookup"
            ) from None
        except urllib3.exceptions.HTTPError as exc:
            why = transport_error("twilio", exc).reason
            raise DeliveryError(f"{why} (lookup)", permanent=False, code="lookup") from None
        return tuple(Receipt(self.name, str(m.sid), "sent") for m in matches)


def _matching(client: Client, message: Outgoing, earliest: datetime, latest: datetime) -> list[Any]:
    """The recipient's messages newest first, page by page, until they are older than the
    window (a shared or busy number may have had many since): those with our body, oldest first.
    """
    found = []
    for listed in client.messages.stream(to=message.to, limit=LOOKUP_LIMIT, page_size=PAGE):
        created = getattr(listed, "date_created", None)
        if isinstance(created, datetime) and created < earliest:
            break
        if listed.body == message.body and _created(listed, earliest, latest):
            found.append(listed)
    return sorted(found, key=lambda m: m.date_created)


def _created(message: object, earliest: datetime, latest: datetime) -> bool:
    created = getattr(message, "date_created", None)
    return isinstance(created, datetime) and earliest <= created <= latest
