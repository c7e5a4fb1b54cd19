"""Claiming due messages from the outbox, safely with many dispatchers at once.

PostgreSQL: `SELECT ... FOR UPDATE SKIP LOCKED` so concurrent dispatchers take disjoint batches
without waiting on each other. SQLite (one writer at a time): a conditional
`UPDATE ... WHERE state = 'scheduled'` per batch, and we keep only the rows it changed.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, Row, ScalarSelect, and_, case, func, or_, select
from sqlalchemy.orm import Session

from engage.delivery.retry import SettleWaits
from engage.store.message_states import move_many
from engage.store.messages import Message, MessageState

DISPATCHER = "dispatcher"
TASK_LOST = "recovered: task lost"
SETTLING = "settling: asking the provider before any resend"


@dataclass(frozen=True)
class Claimed:
    """A message moved to `queued` by this dispatcher: it now owes the broker one send task."""

    id: int
    channel: str


def claim_due(session: Session, now: datetime, limit: int) -> list[Claimed]:
    """Move up to `limit` due `scheduled` messages to `queued` and return them (caller commits).

    With room left, `uncertain` rows whose wait is over come too: a worker asks the provider
    before any resend.
    """
    moved = _claim(session, MessageState.SCHEDULED, "due", now, limit)
    if len(moved) < limit:
        moved += _claim(session, MessageState.UNCERTAIN, SETTLING, now, limit - len(moved))
    if not moved:
        return []
    rows = session.execute(select(Message.id, Message.channel).where(Message.id.in_(moved)))
    channels: dict[int, str] = {row.id: row.channel for row in rows}
    return [Claimed(i, channels[i]) for i in moved]


def _claim(
    session: Session, state: MessageState, reason: str, now: datetime, limit: int
) -> list[int]:
    """Up to `limit` due rows in `state`, oldest due first, moved to `queued` (no holder yet)."""
    due = (
        select(Message.id)
        .where(Message.state == state, Message.due_at <= now)
        .order_by(Message.due_at)
        .limit(limit)
    )
    if session.get_bind().dialect.name == "postgresql":
        ids: list[int] | ScalarSelect[int] = list(
            session.scalars(due.with_for_update(skip_locked=True))
        )
    else:  # one statement: SQLite's single writer cannot race between a read and the update
        ids = due.scalar_subquery()
    # The lease of an earlier attempt's worker says nothing now: the next worker takes it.
    return move_many(
        session,
        ids,
        state,
        MessageState.QUEUED,
        reason,
        DISPATCHER,
        now,
        holder=None,
        lease_until=None,
    )


def recover_stuck(
    session: Session, now: datetime, older_than: timedelta, settle: SettleWaits = SettleWaits()
) -> dict[str, int]:
    """Give back messages a dead worker or dispatcher left behind (caller commits).

    `queued` and taken by a worker whose lease ran out: it died before the provider call (a call
    needs `sending`); due again. `queued` too long and never taken: the task was lost before any
    worker started it; safely due again.
    `sending` whose lease ran out: its worker died around the provider call. If the provider id
    arrived (stored by the sender or a status callback), it was sent; otherwise the outcome is
    unknown: `uncertain`, due after the channel's settle wait, so a worker asks the provider's
    records before any resend.
    """
    return {
        "queued": _recover_queued(session, now, now - older_than),
        "sending": _recover_sending(session, now, now - older_than, settle),
    }


def _recover_queued(session: Session, now: datetime, cutoff: datetime) -> int:
    # Taken by a worker that died before marking them `sending`: never called, due again now.
    dropped = _stuck(session, MessageState.QUEUED, Message.lease_until < now)
    # No worker ever took them (a dispatcher died before publishing, the broker lost the task).
    never_taken = and_(Message.holder.is_(None), Message.queued_at < cutoff)
    lost = _stuck(session, MessageState.QUEUED, never_taken)
    for rows, reason in ((dropped, "recovered: worker lost before sending"), (lost, TASK_LOST)):
        move_many(
            session,
            [r.id for r in rows],
            MessageState.QUEUED,
            MessageState.SCHEDULED,
            reason,
            DISPATCHER,
            now,
            holder=None,
            lease_until=None,
        )
    return len(dropped) + len(lost)


def _recover_sending(session: Session, now: datetime, cutoff: datetime, settle: SettleWaits) -> int:
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
        due_at=case((Message.channel == "email", now + settle.email), else_=now + settle.sms),
        uncertain_since=func.coalesce(Message.uncertain_since, Message.sending_at, now),
        uncertain_until=func.coalesce(Message.lease_until, now),
        holder=None,
        lease_until=None,
    )
    return len(sending)


def _stuck(
    session: Session, state: MessageState, too_old: ColumnElement[bool]
) -> list[Row[int, str | None]]:
    stuck = select(Message.id, Message.provider_id).where(Message.state == state, too_old)
    if session.get_bind().dialect.name == "postgresql":
        stuck = stuck.with_for_update(skip_locked=True)
    return list(session.execute(stuck).all())
