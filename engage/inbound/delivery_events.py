"""Applying a provider's delivery event to a message, whatever order events arrive in.

Providers retry and reorder: Twilio's `sent` callback can land after `delivered`. Each status has
a rank, and a message's provider status only ever climbs, so a late `sent` never overwrites
`delivered`. The message state follows through the store's state machine (`transition`), which
records each move with its reason.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from engage.store.message_states import transition
from engage.store.messages import ALLOWED_TRANSITIONS, Message, MessageState

S = MessageState
# How far along a message is, by the provider's own status names (Twilio and SendGrid).
RANK: dict[str, int] = {
    "accepted": 1,
    "scheduled": 1,
    "queued": 1,
    "processed": 1,
    "sending": 2,
    "deferred": 2,
    "sent": 3,
    "delivered": 4,
    "undelivered": 4,
    "failed": 4,
    "bounce": 4,
    "dropped": 4,
    "read": 5,
    "open": 5,
    "click": 5,
}
# The message state each status means. Below `sent`, the provider holds the message: it is sent
# as far as we are concerned (this matters when a callback overtakes the worker's own commit).
TARGET: dict[str, MessageState] = {
    **dict.fromkeys(("accepted", "scheduled", "queued", "processed", "sending"), S.SENT),
    **dict.fromkeys(("deferred", "sent"), S.SENT),
    **dict.fromkeys(("delivered", "read", "open", "click"), S.DELIVERED),
    **dict.fromkeys(("undelivered", "bounce"), S.UNDELIVERED),
    **dict.fromkeys(("failed", "dropped"), S.FAILED),
}


def apply_status(
    session: Session,
    message: Message,
    status: str,
    *,
    provider: str,
    provider_id: str,
    code: str = "",
    now: datetime,
) -> bool:
    """Record `status` on `message` unless it is older news; True when something changed."""
    rank = RANK.get(status)
    if rank is None or rank <= RANK.get(message.provider_status or "", 0):
        return False
    message.provider_status = status
    if message.provider_id is None and provider_id:
        message.provider, message.provider_id = provider, provider_id
    if code:
        message.last_error_code = code[:32]
    target = TARGET[status]
    reason = f"{provider}: {status}" + (f" (error {code})" if code else "")
    state = S(message.state)
    if state is target:
        return True
    if state is S.SENDING and target not in ALLOWED_TRANSITIONS[state]:
        transition(session, message, S.SENT, f"{provider}: accepted", provider, at=now)
        state = S.SENT
    if target in ALLOWED_TRANSITIONS[state]:
        transition(session, message, target, reason, provider, at=now)
    return True
