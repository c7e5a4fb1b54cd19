"""The words a message's reason is made of where staff or operators search for it.

Pure. One wording per reason, shared by the planner (a step planned with no open channel) and
the send-time gate (a channel that closed since), so `engage failed list --reason "staff must
call"` finds every flagged message whichever of the two flagged it. Staff resolving a flagged
message leave one of the two resolution reasons on it.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

STAFF_MUST_CALL = "staff must call"
RESOLVED_REACHED = "resolved by staff: patient reached"
RESOLVED_UNREACHABLE = "resolved by staff: could not reach the patient"
NO_CONSENTED_CHANNEL = "no consented channel"


def no_consented_channel(step_channels: Iterable[str], *, critical: bool) -> str:
    """Why a planned step goes nowhere; a critical one says that staff must call."""
    why = f"{NO_CONSENTED_CHANNEL} (step allows {', '.join(step_channels)})"
    return f"{STAFF_MUST_CALL}: {why}" if critical else why


def closed_without_fallback(channel: str) -> str:
    """Why a critical message found its channel closed at send time and no other open."""
    return f"{STAFF_MUST_CALL}: {channel} closed and no other open channel"


# Why a planned message's time is not its step's own: said beside it in every timeline and preview.
MOVED = "moved"


def _when(local: datetime) -> str:
    return f"{local:%a %d %b, %H:%M %Z}"


def sent_late(own: datetime) -> str:
    """A step whose time had passed when it was planned: it goes at once (`if_late: send`)."""
    return f"{MOVED}: its time ({_when(own)}) had passed, so it goes at once"


def out_of_quiet_hours(own: datetime) -> str:
    """A non-critical step whose time fell in the clinic's quiet hours."""
    return f"{MOVED}: out of quiet hours (its time was {_when(own)})"


def before_its_event(own: datetime) -> str:
    """A reminder that would have reached its event: the last allowed minute before it."""
    return f"{MOVED}: to the last allowed time before its event (its time was {_when(own)})"


def with_move(reason: str, moved: str | None) -> str:
    """The reason a planned row carries: what planned it, and why its time moved, if it did."""
    return f"{reason}; {moved}" if moved else reason
