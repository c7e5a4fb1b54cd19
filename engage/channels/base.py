"""The one small interface every delivery channel implements.

A channel makes exactly one attempt per `send`. Retrying, rate limiting and recording the outcome
belong to the caller (see engage.delivery.retry and engage.delivery.ratelimit), so that they
happen in one place.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True)
class Attachment:
    filename: str
    content_type: str
    content: bytes


@dataclass(frozen=True)
class Outgoing:
    """One rendered message, ready to send."""

    message_id: int  # our outbox id; providers carry it back (StatusCallback URL / custom_args)
    channel: str  # "sms" | "email"
    to: str  # E.164 phone or email address
    body: str  # SMS body, or the email plain-text part
    subject: str = ""
    html: str = ""
    attachments: tuple[Attachment, ...] = ()
    unsubscribe_url: str = ""  # email: List-Unsubscribe + List-Unsubscribe-Post (RFC 8058)


@dataclass(frozen=True)
class Receipt:
    """The provider accepted the message; `provider_id` keys its later status events."""

    provider: str
    provider_id: str
    status: str = "sent"


class Channel(Protocol):
    name: str  # provider name: "twilio", "sendgrid", "console", "file"

    def send(self, message: Outgoing) -> Receipt:
        """Make exactly one attempt; raise engage.errors.DeliveryError when it fails."""
        ...
