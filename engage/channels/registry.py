"""Which channel carries each kind of message: one explicit dict, built once at start-up."""

from __future__ import annotations

from engage.channels.base import Channel
from engage.channels.file import FileChannel
from engage.channels.sendgrid import SendGridChannel
from engage.channels.twilio import TwilioChannel
from engage.settings import Settings


def build_channels(settings: Settings) -> dict[str, Channel]:
    """SMS: Twilio when its credentials are set; email: SendGrid when its key is; else file."""
    # Console is for demos: callers that want it build it themselves.
    outbox = FileChannel(settings.outbox_dir)
    sms: Channel = TwilioChannel(settings) if settings.sms_provider == "twilio" else outbox
    email: Channel = SendGridChannel(settings) if settings.email_provider == "sendgrid" else outbox
    return {"sms": sms, "email": email}
