"""Read-only questions about the outbox that metrics and `engage status` both ask.

Asked in SQLAlchemy Core over `engage.ops.outbox_tables`, not the ORM models, so `engage status`
starts without the model registry; `reads` is a Session or a Connection alike.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import Connection, func, select, text

from engage.ops import outbox_tables as t
from engage.ops.outbox_tables import aware, utc

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    Reads = Session | Connection

M, E = t.message.c, t.message_event.c
# Due and not yet handed to a provider: waiting for a dispatcher, in the broker, or mid-call.
UNSENT = (t.SCHEDULED, t.QUEUED, t.SENDING)
FAILURES = (t.FAILED, t.UNDELIVERED, t.FLAGGED)


# Every read below but counts_by_state is an index range over a few thousand rows at most, yet
# at ten million messages the planner expects a million (it cannot know that few unsent rows
# are due, or how many events an hour holds) and plans parallel workers and JIT compilation for
# them: their start-up was most of `engage status` (0.6 s of 0.7 s measured on 1M patients /
# 10M messages; 0.1 s without). For one transaction, PostgreSQL only; other databases ignore it.
_SMALL_READS = ("SET LOCAL jit = off", "SET LOCAL max_parallel_workers_per_gather = 0")


def plan_as_small_reads(reads: Reads) -> None:
    """Tell PostgreSQL that this transaction's reads are small (no parallel workers, no JIT)."""
    bind = reads if isinstance(reads, Connection) else reads.get_bind()
    if bind.dialect.name == "postgresql":
        for statement in _SMALL_READS:
            reads.execute(text(statement))


@dataclass(frozen=True)
class Backlog:
    """Due-but-unsent messages of one channel, and when the oldest of them was due."""

    channel: str
    count: int
    oldest_due: datetime | None


def counts_by_state(reads: Reads) -> dict[tuple[str, str], int]:
    """Messages per (state, channel), all time (the outbox keeps every row)."""
    rows = reads.execute(select(M.state, M.channel, func.count()).group_by(M.state, M.channel))
    return {(str(state), channel): int(n) for state, channel, n in rows}


def backlog(reads: Reads, now: datetime) -> list[Backlog]:
    """Per channel: messages due by `now` that no provider has accepted yet."""
    rows = reads.execute(
        select(M.channel, func.count(), func.min(M.due_at))
        .where(M.state.in_(UNSENT), M.due_at <= utc(now))
        .group_by(M.channel)
        .order_by(M.channel)
    )
    return [Backlog(channel, int(n), aware(oldest)) for channel, n, oldest in rows]


NOT_REACHED = UNSENT + FAILURES  # not (yet) with the patient, whatever the reason


def critical_not_reached(reads: Reads, due_before: datetime) -> int:
    """Safety-critical messages due before `due_before` that have not reached the patient."""
    query = (
        select(func.count())
        .select_from(t.message)
        .where(M.critical, M.state.in_(NOT_REACHED), M.due_at < utc(due_before))
    )
    return int(reads.execute(query).scalar_one())


def lateness_seconds(reads: Reads, since: datetime, limit: int = 100_000) -> list[float]:
    """Sent minus due, in seconds, for messages sent since `since` (newest `limit` of them)."""
    rows = reads.execute(
        select(M.sent_at, M.due_at)
        .where(M.sent_at >= utc(since), M.sent_at.is_not(None))
        .order_by(M.sent_at.desc())
        .limit(limit)
    )
    # Both columns alike on either backend (naive on SQLite), so their difference is exact.
    return [max(0.0, (sent - due).total_seconds()) for sent, due in rows if sent and due]


def transitions_by_channel(
    reads: Reads, since: datetime, to_states: Sequence[str]
) -> dict[tuple[str, str], int]:
    """(channel, to_state) -> how many messages entered those states since `since`."""
    rows = reads.execute(
        select(M.channel, E.to_state, func.count())
        .join(t.message, M.id == E.message_id)
        .where(E.at >= utc(since), E.to_state.in_([str(s) for s in to_states]))
        .group_by(M.channel, E.to_state)
    )
    return {(channel, state): int(n) for channel, state, n in rows}


def top_failure_reasons(reads: Reads, since: datetime, limit: int = 5) -> list[tuple[str, int]]:
    """The commonest reasons among messages that failed, bounced or were flagged since `since`."""
    rows = reads.execute(
        select(E.reason, func.count().label("n"))
        .where(E.at >= utc(since), E.to_state.in_(FAILURES))
        .group_by(E.reason)
        .order_by(func.count().desc(), E.reason)
        .limit(limit)
    )
    return [(reason or "(no reason)", int(n)) for reason, n in rows]


def last_event_at(reads: Reads, actor: str) -> datetime | None:
    """When `actor` last changed a message: a liveness hint when no heartbeat is stored."""
    value = reads.execute(select(func.max(E.at)).where(E.actor == actor)).scalar_one()
    return aware(value)
