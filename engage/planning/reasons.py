"""The words a message's reason is made of where staff or operators search for it.

Pure. One wording per reason, shared by the planner (a step planned with no open channel) and
the send-time gate (a channel that closed since), so `engage failed list --reason "staff must
call"` finds every flagged message whichever of the two flagged it. Staff resolving a flagged
message leave one of the two resolution reasons on it.
"""

from __future__ import annotations

from collections.abc import Iterable

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
