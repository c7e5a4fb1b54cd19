"""What operators read about the feed: counts by type and ACK code, the newest message, the
dead letters. Read-only queries over the journal (hl7_message); no message content is shown."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from engage.store.hl7 import Hl7Message, Hl7State


@dataclass(frozen=True)
class Count:
    message_type: str
    ack_code: str
    state: str
    count: int


@dataclass(frozen=True)
class FeedSummary:
    last_received_at: datetime | None
    counts: list[Count]
    dead_letters: int


@dataclass(frozen=True)
class DeadLetter:
    id: int
    message_type: str
    control_id: str
    received_at: datetime
    error_field: str
    reason: str
    attempts: int


def summary(engine: Engine, since: datetime | None = None) -> FeedSummary:
    """Counts of messages received since `since` (all time when None), and the newest one."""
    grouped = select(
        Hl7Message.message_type, Hl7Message.ack_code, Hl7Message.state, func.count()
    ).group_by(Hl7Message.message_type, Hl7Message.ack_code, Hl7Message.state)
    if since is not None:
        grouped = grouped.where(Hl7Message.received_at >= since)
    with engine.connect() as connection:
        rows = connection.execute(grouped.order_by(Hl7Message.message_type)).all()
        newest = connection.scalar(select(func.max(Hl7Message.received_at)))
        failed = connection.scalar(select(func.count()).where(Hl7Message.state == Hl7State.FAILED))
    return FeedSummary(
        last_received_at=newest,
        counts=[Count(t, a, str(s), int(n)) for t, a, s, n in rows],
        dead_letters=int(failed or 0),
    )


def dead_letters(engine: Engine, limit: int = 100) -> list[DeadLetter]:
    """Messages answered AE and not yet re-applied, oldest first (the order to fix them in)."""
    query = (
        select(Hl7Message)
        .where(Hl7Message.state == Hl7State.FAILED)
        .order_by(Hl7Message.id)
        .limit(limit)
    )
    with Session(engine) as session:
        rows = session.scalars(query).all()
    return [
        DeadLetter(
            row.id,
            row.message_type,
            row.control_id,
            row.received_at,
            row.error_field,
            row.reason,
            row.attempts,
        )
        for row in rows
    ]
