"""The last look before a send: is this message still wanted, on which channel, and now?

Pure: the sender gathers the facts from the store and acts on the verdict. Consent, enrollment and
appointment state can all change after a message was queued (a STOP, an unenroll, a cancelled
appointment), so they are checked here, at the moment of sending, not only at planning.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo

from engage.planning.localtime import next_allowed, resolve_local, to_local
from engage.planning.reasons import closed_without_fallback
from engage.schedule.models import QuietHours


class Action(StrEnum):
    SEND = "send"  # go ahead on `channel` (possibly a fallback)
    DEFER = "defer"  # back to scheduled until `until` (quiet hours, daily cap, paused)
    CANCEL = "cancel"  # no longer wanted (unenrolled, appointment cancelled)
    SUPPRESS = "suppress"  # wanted but not allowed (consent closed, no address)
    FLAG = "flag"  # critical and no open channel: staff must reach the patient


@dataclass(frozen=True)
class SendFacts:
    """Everything the verdict depends on, read fresh when the send task runs."""

    channel: str
    step_channels: tuple[str, ...]
    critical: bool
    enrollment_state: str  # active | paused | completed | cancelled
    appointment_cancelled: bool
    open_channels: tuple[str, ...]  # consent granted and an address on file, preferred first
    sent_today: int  # non-critical messages already sent to this patient, local day
    daily_cap: int
    timezone: str
    quiet: QuietHours
    now: datetime  # aware
    # A reminder meant to come before its event (a negative offset) and that event's instant:
    # once the event has started, the reminder is no longer sent.
    before_event: bool = False
    event_at: datetime | None = None
    # The notice that the appointment was cancelled: the one message a cancellation does not stop.
    about_cancellation: bool = False


@dataclass(frozen=True)
class Verdict:
    action: Action
    channel: str
    reason: str = ""
    until: datetime | None = None


PAUSE_RECHECK = timedelta(hours=1)
EVENT_STARTED = "late: its event has started"


def decide(facts: SendFacts) -> Verdict:
    """What to do with one message now; every verdict but SEND carries its reason."""
    if facts.enrollment_state == "cancelled":
        return Verdict(Action.CANCEL, facts.channel, "enrollment cancelled")
    if facts.appointment_cancelled and not facts.about_cancellation:
        return Verdict(Action.CANCEL, facts.channel, "appointment cancelled")
    if _event_started(facts, facts.now):
        return Verdict(Action.CANCEL, facts.channel, EVENT_STARTED)
    if facts.enrollment_state == "paused":
        return Verdict(Action.DEFER, facts.channel, "enrollment paused", facts.now + PAUSE_RECHECK)
    channel, reason = _choose_channel(facts)
    if channel is None:
        action = Action.FLAG if facts.critical else Action.SUPPRESS
        return Verdict(action, facts.channel, reason)
    if not facts.critical:
        zone = ZoneInfo(facts.timezone)
        allowed = next_allowed(facts.now, zone, facts.quiet)
        if allowed > facts.now:
            return _defer(facts, channel, "quiet hours", allowed)
        if facts.sent_today >= facts.daily_cap:
            return _defer(facts, channel, "daily cap reached", _next_day(facts, zone))
    return Verdict(Action.SEND, channel, reason)


def _event_started(facts: SendFacts, moment: datetime) -> bool:
    return facts.before_event and facts.event_at is not None and facts.event_at <= moment


def _defer(facts: SendFacts, channel: str, why: str, until: datetime) -> Verdict:
    """Wait until `until`, unless a reminder would then come after its event started."""
    if _event_started(facts, until):
        return Verdict(Action.CANCEL, channel, f"{EVENT_STARTED} by the end of the {why}")
    return Verdict(Action.DEFER, channel, why, until)


def _choose_channel(facts: SendFacts) -> tuple[str | None, str]:
    return send_channel(facts.channel, facts.step_channels, facts.critical, facts.open_channels)


def send_channel(
    channel: str, step_channels: tuple[str, ...], critical: bool, open_channels: tuple[str, ...]
) -> tuple[str | None, str]:
    """The channel a message goes by given the channels open now, and why if not its own.

    The timeline asks the same question of pending messages, so what it shows is what happens.
    """
    if channel in open_channels:
        return channel, ""
    # Critical messages may use any channel the patient opened; others only the step's own.
    candidates = open_channels if critical else step_channels
    for other in candidates:
        if other != channel and other in open_channels:
            return other, f"fallback: {channel} closed, sent by {other}"
    if critical:
        return None, closed_without_fallback(channel)
    return None, f"{channel} consent closed"


def _next_day(facts: SendFacts, zone: ZoneInfo) -> datetime:
    # The planner's resolver: a quiet-hours end inside a skipped hour is the first minute after
    # the jump (datetime.combine(..., zone) would read it with the old offset: 30 min late).
    local = to_local(facts.now, zone)
    tomorrow = resolve_local(
        datetime.combine(local.date() + timedelta(days=1), facts.quiet.end), zone
    )
    return next_allowed(tomorrow, zone, facts.quiet)
