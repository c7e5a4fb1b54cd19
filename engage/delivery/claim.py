"""Claiming due messages from the outbox, safely with many dispatchers at once.

PostgreSQL: `SELECT ... FOR UPDATE SKIP LOCKED` so concurrent dispatchers take disjoint batches
without waiting on each other. SQLite (one writer at a time): a conditional
`UPDATE ... WHERE state = 'scheduled'` per batch, and we keep only the rows it changed.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import insert, select, update
from sqlalchemy.orm import Session

from engage.store.messages import Message, MessageEvent, MessageState

DISPATCHER = "dispatcher"


@dataclass(frozen=True)
class Claimed:
    """A message moved to `queued` by this dispatcher: it now owes the broker one send task."""

    id: int
    channel: str


def claim_due(session: Session, now: datetime, limit: int) -> list[Claimed]:
    """Move up to `limit` due `scheduled` messages to `queued` and return them (caller commits)."""
    due = (
        select(Message.id, Message.channel)
        .where(Message.state == MessageState.SCHEDULED, Message.due_at <= now)
        .order_by(Message.due_at)
        .limit(limit)
    )
    if session.get_bind().dialect.name == "postgresql":
        rows = session.execute(due.with_for_update(skip_locked=True)).all()
        ids = [row.id for row in rows]
        if ids:
            session.execute(
                update(Message)
                .where(Message.id.in_(ids))
                .values(state=MessageState.QUEUED, queued_at=now, updated_at=now)
                .execution_options(synchronize_session=False)
            )
        claimed = [Claimed(row.id, row.channel) for row in rows]
    else:
        result = session.execute(
            update(Message)
            .where(Message.id.in_(due.with_only_columns(Message.id).scalar_subquery()))
            .where(Message.state == MessageState.SCHEDULED)
            .values(state=MessageState.QUEUED, queued_at=now, updated_at=now)
            .returning(Message.id, Message.channel)
            .execution_options(synchronize_session=False)
        )
        claimed = [Claimed(row.id, row.channel) for row in result]
    _record(
        session, [c.id for c in claimed], MessageState.SCHEDULED, MessageState.QUEUED, "due", now
    )
    return claimed


def recover_stuck(session: Session, now: datetime, older_than: timedelta) -> dict[str, int]:
    """Give back messages a dead worker or dispatcher left behind (caller commits).

    `queued` too long: the task was lost before it started; the message is safely due again.
    `sending` too long: the worker died around the provider call. If the provider id arrived
    (stored by the sender or a status callback), it was sent; otherwise the outcome is unknown
    and it is sent again: the residual duplicate window documented in docs/delivery.md.
    """
    cutoff = now - older_than
    counts = {}
    for state, stamp, outcome, reason in (
        (MessageState.QUEUED, Message.queued_at, MessageState.SCHEDULED, "recovered: task lost"),
        (
            MessageState.SENDING,
            Message.sending_at,
            MessageState.SCHEDULED,
            "recovered: worker lost during send, outcome unknown, resending",
        ),
    ):
        stuck = select(Message.id, Message.provider_id).where(
            Message.state == state, stamp < cutoff
        )
        if session.get_bind().dialect.name == "postgresql":
            stuck = stuck.with_for_update(skip_locked=True)
        rows = session.execute(stuck).all()
        sent = [r.id for r in rows if r.provider_id]
        lost = [r.id for r in rows if not r.provider_id]
        _move(session, sent, state, MessageState.SENT, "recovered: provider had accepted it", now)
        _move(session, lost, state, outcome, reason, now)
        counts[state.value] = len(rows)
    return counts


def _move(
    session: Session,
    ids: list[int],
    from_state: MessageState,
    to_state: MessageState,
    reason: str,
    now: datetime,
) -> None:
    if not ids:
        return
    values: dict[str, object] = {"state": to_state, "reason": reason, "updated_at": now}
    if to_state is MessageState.SENT:
        values["sent_at"] = now
    session.execute(
        update(Message)
        .where(Message.id.in_(ids), Message.state == from_state)
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    _record(session, ids, from_state, to_state, reason, now)


def _record(
    session: Session,
    ids: list[int],
    from_state: MessageState,
    to_state: MessageState,
    reason: str,
    now: datetime,
) -> None:
    if ids:
        session.execute(
            insert(MessageEvent),
            [
                {
                    "message_id": i,
                    "at": now,
                    "from_state": from_state.value,
                    "to_state": to_state.value,
                    "reason": reason,
                    "actor": DISPATCHER,
                }
                for i in ids
            ],
        )
