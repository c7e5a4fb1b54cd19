"""Claiming due messages from the outbox, safely with many dispatchers at once.

PostgreSQL: `SELECT ... FOR UPDATE SKIP LOCKED` so concurrent dispatchers take disjoint batches
without waiting on each other. SQLite (one writer at a time): a conditional
`UPDATE ... WHERE state = 'scheduled'` per batch, and we keep only the rows it changed.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, Row, ScalarSelect, and_, func, or_, select
from sqlalchemy.orm import Session

from engage.store.message_states import move_many
from engage.store.messages import Message, MessageState

DISPATCHER = "dispatcher"
SETTLE_RECOVERED = timedelta(seconds=10)


@dataclass(frozen=True)
class Claimed:
    """A message moved to `queued` by this dispatcher: it now owes the broker one send task."""

    id: int
    channel: str


def claim_due(session: Session, now: datetime, limit: int) -> list[Claimed]:
    """Move up to `limit` due `scheduled` messages to `queued` and return them (caller commits)."""
    due = (
        select(Message.id)
        .where(Message.state == MessageState.SCHEDULED, Message.due_at <= now)
        .order_by(Message.due_at)
        .limit(limit)
    )
    if session.get_bind().dialect.name == "postgresql":
        ids: list[int] | ScalarSelect[int] = list(
            session.scalars(due.with_for_update(skip_locked=True))
        )
    else:  # one statement: SQLite's single writer cannot race between a read and the update
        ids = due.scalar_subquery()
    moved = move_many(
        session, ids, MessageState.SCHEDULED, MessageState.QUEUED, "due", DISPATCHER, now
    )
    if len(moved) < limit:
        moved += _claim_uncertain(session, now, limit - len(moved))
    if not moved:
        return []
    rows = session.execute(select(Message.id, Message.channel).where(Message.id.in_(moved)))
    channels: dict[int, str] = {row.id: row.channel for row in rows}
    return [Claimed(i, channels[i]) for i in moved]


def _claim_uncertain(session: Session, now: datetime, limit: int) -> list[int]:
    """`uncertain` rows whose wait is over: a worker asks the provider before any resend."""
    due = (
        select(Message.id)
        .where(Message.state == MessageState.UNCERTAIN, Message.due_at <= now)
        .order_by(Message.due_at)
        .limit(limit)
    )
    if session.get_bind().dialect.name == "postgresql":
        ids: list[int] | ScalarSelect[int] = list(
            session.scalars(due.with_for_update(skip_locked=True))
        )
    else:
        ids = due.scalar_subquery()
    reason = "settling: asking the provider before any resend"
    return move_many(
        session, ids, MessageState.UNCERTAIN, MessageState.QUEUED, reason, DISPATCHER, now
    )


def recover_stuck(session: Session, now: datetime, older_than: timedelta) -> dict[str, int]:
    """Give back messages a dead worker or dispatcher left behind (caller commits).

    `queued` too long: the task was lost before it started; the message is safely due again.
    `sending` whose lease ran out: its worker died around the provider call. If the provider id
    arrived (stored by the sender or a status callback), it was sent; otherwise the outcome is
    unknown: `uncertain`, due now, so a worker asks the provider's records before any resend.
    """
    cutoff = now - older_than
    queued = _stuck(session, MessageState.QUEUED, Message.queued_at < cutoff)
    move_many(
        session,
        [r.id for r in queued],
        MessageState.QUEUED,
        MessageState.SCHEDULED,
        "recovered: task lost",
        DISPATCHER,
        now,
    )
    # A row in `sending` is held while its lease runs; a row without one (written before leases)
    # goes by its age as before.
    lapsed = or_(
        Message.lease_until < now,
        and_(Message.lease_until.is_(None), Message.sending_at < cutoff),
    )
    sending = _stuck(session, MessageState.SENDING, lapsed)
    move_many(
        session,
        [r.id for r in sending if r.provider_id],
        MessageState.SENDING,
        MessageState.SENT,
        "recovered: provider had accepted it",
        DISPATCHER,
        now,
    )
    move_many(
        session,
        [r.id for r in sending if not r.provider_id],
        MessageState.SENDING,
        MessageState.UNCERTAIN,
        "recovered: worker lost during send, outcome unknown, asking the provider",
        DISPATCHER,
        now,
        # Asked once what was in flight then has been recorded; the call was before the lapse.
        due_at=now + SETTLE_RECOVERED,
        uncertain_since=func.coalesce(Message.uncertain_since, Message.sending_at, now),
        uncertain_until=func.coalesce(Message.lease_until, now),
        holder=None,
        lease_until=None,
    )
    return {"queued": len(queued), "sending": len(sending)}


def _stuck(
    session: Session, state: MessageState, too_old: ColumnElement[bool]
) -> list[Row[int, str | None]]:
    stuck = select(Message.id, Message.provider_id).where(Message.state == state, too_old)
    if session.get_bind().dialect.name == "postgresql":
        stuck = stuck.with_for_update(skip_locked=True)
    return list(session.execute(stuck).all())
