"""The one small interface every delivery channel implements.

A channel makes exactly one attempt per `send`. Retrying, rate limiting and recording the outcome
belong to the caller (see engage.delivery.retry and engage.delivery.ratelimit), so that they
happen in one place.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol, runtime_checkable

# DeliveryError codes meaning the request went out and no answer came back: the provider may
# have accepted it. Such an outcome is `uncertain`, never resent without asking the provider.
AMBIGUOUS = frozenset({"timeout", "reset"})


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


@runtime_checkable
class Lookup(Protocol):
    """A channel whose provider can say whether it already has a message (Twilio's list)."""

    def find(self, message: Outgoing, since: datetime, until: datetime) -> tuple[Receipt, ...]:
        """The provider's records matching `message` created in [since, until], oldest first
        (none: it never took it); raise engage.errors.DeliveryError when it cannot be asked."""
        ...
