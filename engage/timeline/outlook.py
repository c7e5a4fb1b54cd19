"""What will become of a pending message given the patient's consent now: pure.

The send-time gate makes the final call; this asks it the same question (`send_channel`) so the
timeline says what the gate will do, in words staff can repeat to a patient.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from engage.delivery.gate import send_channel

# How a consent source reads on a timeline: "SMS closed by STOP on 2026-12-01".
SOURCE_WORDS = {
    "sms-stop": "STOP",
    "twilio-21610": "the carrier (the number replied STOP, Twilio 21610)",
    "email-unsubscribe": "the unsubscribe link",
    "sendgrid-unsubscribe": "an unsubscribe",
    "sendgrid-bounce": "a bounce",
    "sendgrid-spamreport": "a spam report",
    "csv-import": "an import",
    "api": "staff",
}


@dataclass(frozen=True)
class ChannelState:
    """One channel's consent as the timeline explains it."""

    channel: str
    granted: bool
    has_address: bool
    source: str = ""
    changed_at: datetime | None = None


@dataclass(frozen=True)
class Outlook:
    """The channel a pending message will use (None: it will not go out) and why, in words."""

    channel: str | None
    note: str


def why_closed(state: ChannelState | None, channel: str, zone: str) -> str:
    """`SMS closed by STOP on 2026-12-01`, `no SMS consent`, `no email address on file`."""
    label = channel.upper() if channel == "sms" else channel
    if state is None or (not state.granted and not state.source):
        return f"no {label} consent"
    if not state.granted:
        words = SOURCE_WORDS.get(state.source, state.source)
        when = ""
        if state.changed_at is not None:
            when = f" on {state.changed_at.astimezone(ZoneInfo(zone)):%Y-%m-%d}"
        return f"{label} closed by {words}{when}"
    what = "phone number" if channel == "sms" else "email address"
    return f"no {what} on file"


def outlook(
    channel: str,
    step_channels: tuple[str, ...],
    critical: bool,
    channels: dict[str, ChannelState],
    zone: str,
) -> Outlook:
    """Which channel the gate would pick now for this message, explained."""
    open_channels = tuple(c for c, s in channels.items() if s.granted and s.has_address)
    chosen, _ = send_channel(channel, step_channels, critical, open_channels)
    if chosen == channel:
        return Outlook(channel, "")
    closed = why_closed(channels.get(channel), channel, zone)
    if chosen is not None:
        return Outlook(chosen, f"goes by {chosen}: {closed}")
    if critical:
        return Outlook(None, f"flagged for staff to call: {closed}, no other open channel")
    return Outlook(None, f"suppressed: {closed}")
