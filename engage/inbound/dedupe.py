"""At most once per provider event: the first delivery of an event id wins, repeats are no-ops.

The marker row is written in the same transaction as the event's effect, so an event whose
handling failed (and rolled back) is applied when the provider retries it.
"""

from __future__ import annotations

import hashlib
from datetime import datetime

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from engage.store.inbound import WebhookEvent

_MAX = 200  # the column's width; longer ids are hashed (still unique, still stable)


def first_delivery(session: Session, provider: str, event_id: str, now: datetime) -> bool:
    """Mark (provider, event_id) as handled; False when an earlier delivery already did."""
    if len(event_id) > _MAX:
        event_id = "sha256:" + hashlib.sha256(event_id.encode()).hexdigest()
    try:
        with session.begin_nested():
            session.add(WebhookEvent(provider=provider, event_id=event_id, received_at=now))
            session.flush()  # inside the savepoint, so a clash rolls back only the marker
    except IntegrityError:
        return False
    return True
