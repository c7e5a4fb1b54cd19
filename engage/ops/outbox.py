"""Read-only questions about the outbox that metrics and `engage status` both ask."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from engage.store.messages import Message, MessageEvent, MessageState

S = MessageState
# Due and not yet handed to a provider: waiting for a dispatcher, in the broker, or mid-call.
UNSENT = (S.SCHEDULED, S.QUEUED, S.SENDING)
FAILURES = (S.FAILED, S.UNDELIVERED, S.FLAGGED)


# Every read below but counts_by_state is an index range over a few thousand rows at most, yet
# at ten million messages the planner expects a million (it cannot know that few unsent rows
# are due, or how many events an hour holds) and plans parallel workers and JIT compilation for
# them: their start-up was most of `engage status` (0.6 s of 0.7 s measured on 1M patients /
# 10M messages; 0.1 s without). For one transaction, PostgreSQL only; other databases ignore it.
_SMALL_READS = ("SET LOCAL jit = off", "SET LOCAL max_parallel_workers_per_gather = 0")


def plan_as_small_reads(session: Session) -> None:
    """Tell PostgreSQL that this transaction's reads are small (no parallel workers, no JIT)."""
    if session.get_bind().dialect.name == "postgresql":
        for statement in _SMALL_READS:
            session.execute(text(statement))


@dataclass(frozen=True)
class Backlog:
    """Due-but-unsent messages of one channel, and when the oldest of them was due."""

    channel: str
    count: int
    oldest_due: datetime | None


def counts_by_state(session: Session) -> dict[tuple[str, str], int]:
    """Messages per (state, channel), all time (the outbox keeps every row)."""
    rows = session.execute(
        select(Message.state, Message.channel, func.count()).group_by(
            Message.state, Message.channel
        )
    )
    return {(str(state), channel): int(n) for state, channel, n in rows}


def backlog(session: Session, now: datetime) -> list[Backlog]:
    """Per channel: messages due by `now` that no provider has accepted yet."""
    rows = session.execute(
        select(Message.channel, func.count(), func.min(Message.due_at))
        .where(Message.state.in_(UNSENT), Message.due_at <= now)
        .group_by(Message.channel)
        .order_by(Message.channel)
    )
    return [Backlog(channel, int(n), _aware(oldest)) for channel, n, oldest in rows]


NOT_REACHED = UNSENT + FAILURES  # not (yet) with the patient, whatever the reason


def critical_not_reached(session: Session, due_before: datetime) -> int:
    """Safety-critical messages due before `due_before` that have not reached the patient."""
    query = (
        select(func.count())
        .select_from(Message)
        .where(Message.critical, Message.state.in_(NOT_REACHED), Message.due_at < due_before)
    )
    return int(session.execute(query).scalar_one())


def lateness_seconds(session: Session, since: datetime, limit: int = 100_000) -> list[float]:
    """Sent minus due, in seconds, for messages sent since `since` (newest `limit` of them)."""
    rows = session.execute(
        select(Message.sent_at, Message.due_at)
        .where(Message.sent_at >= since, Message.sent_at.is_not(None))
        .order_by(Message.sent_at.desc())
        .limit(limit)
    )
    return [max(0.0, (sent - due).total_seconds()) for sent, due in rows if sent and due]


def transitions_by_channel(
    session: Session, since: datetime, to_states: Sequence[MessageState]
) -> dict[tuple[str, str], int]:
    """(channel, to_state) -> how many messages entered those states since `since`."""
    rows = session.execute(
        select(Message.channel, MessageEvent.to_state, func.count())
        .join(Message, Message.id == MessageEvent.message_id)
        .where(MessageEvent.at >= since, MessageEvent.to_state.in_([s.value for s in to_states]))
        .group_by(Message.channel, MessageEvent.to_state)
    )
    return {(channel, state): int(n) for channel, state, n in rows}


def top_failure_reasons(session: Session, since: datetime, limit: int = 5) -> list[tuple[str, int]]:
    """The commonest reasons among messages that failed, bounced or were flagged since `since`."""
    rows = session.execute(
        select(MessageEvent.reason, func.count().label("n"))
        .where(MessageEvent.at >= since, MessageEvent.to_state.in_([s.value for s in FAILURES]))
        .group_by(MessageEvent.reason)
        .order_by(func.count().desc(), MessageEvent.reason)
        .limit(limit)
    )
    return [(reason or "(no reason)", int(n)) for reason, n in rows]


def last_event_at(session: Session, actor: str) -> datetime | None:
    """When `actor` last changed a message: a liveness hint when no heartbeat is stored."""
    value = session.execute(
        select(func.max(MessageEvent.at)).where(MessageEvent.actor == actor)
    ).scalar_one()
    return _aware(value)


def _aware(value: datetime | None) -> datetime | None:
    # Aggregates bypass the column type on SQLite, so min()/max() may come back naive (UTC).
    if value is None or value.tzinfo is not None:
        return value
    return value.replace(tzinfo=UTC)
