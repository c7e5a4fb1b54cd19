"""Engines, sessions, and the one way a message changes state.

SQLite (the embedded default) runs in WAL mode with a busy timeout and enforced foreign keys, so
a dispatcher, a worker and the CLI can share one file; PostgreSQL goes through psycopg 3.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Engine, create_engine, event, make_url
from sqlalchemy.engine import URL
from sqlalchemy.orm import Session, sessionmaker

from engage.errors import Conflict
from engage.store.base import utcnow
from engage.store.messages import ALLOWED_TRANSITIONS, Message, MessageEvent, MessageState

DEFAULT_URL = "sqlite:///engage.db"
SQLITE_BUSY_TIMEOUT_MS = 5000
# The timestamp a message records on entering each state.
_STAMPS = {
    MessageState.QUEUED: "queued_at",
    MessageState.SENDING: "sending_at",
    MessageState.SENT: "sent_at",
    MessageState.DELIVERED: "delivered_at",
}


def normalize_url(url: str | URL) -> URL:
    """`postgresql://` and `postgres://` mean psycopg 3, the driver engage ships with."""
    parsed = make_url(url)
    if parsed.drivername in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed


def make_engine(url: str | URL = DEFAULT_URL, **kwargs: Any) -> Engine:
    """An engine for `url`, with SQLite tuned for several processes on one file."""
    parsed = normalize_url(url)
    if parsed.get_backend_name() == "sqlite":
        engine = create_engine(parsed, **kwargs)
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    return create_engine(parsed, pool_pre_ping=True, **kwargs)


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA foreign_keys=ON")
    finally:
        cursor.close()


def session_factory(engine: Engine) -> sessionmaker[Session]:
    """Sessions whose objects stay readable after commit (the CLI prints them afterwards)."""
    return sessionmaker(engine, expire_on_commit=False)


def transition(
    session: Session,
    message: Message,
    to_state: MessageState,
    reason: str,
    actor: str,
    *,
    at: datetime | None = None,
) -> MessageEvent:
    """Move `message` to `to_state` and record the MessageEvent, in the caller's transaction.

    Raises Conflict when the state machine does not allow the move (e.g. cancelling a message
    already sent): the caller loaded a stale state, and guessing would corrupt the audit trail.
    """
    at = at or utcnow()
    from_state = MessageState(message.state)
    if to_state not in ALLOWED_TRANSITIONS[from_state]:
        raise Conflict(f"message {message.id}: cannot go from {from_state} to {to_state}")
    message.state = to_state
    message.reason = reason
    message.updated_at = at
    stamp = _STAMPS.get(to_state)
    if stamp:
        setattr(message, stamp, at)
    event = MessageEvent(
        message=message,
        at=at,
        from_state=from_state.value,
        to_state=to_state.value,
        reason=reason,
        actor=actor,
    )
    session.add(event)
    return event


def reschedule(
    session: Session,
    message: Message,
    due_at: datetime,
    reason: str,
    actor: str,
    *,
    channel: str | None = None,
    at: datetime | None = None,
) -> MessageEvent:
    """Give a still-scheduled message a new due time (and channel), recording why.

    The message keeps its id, so links and the audit trail follow it; the event row reads
    scheduled -> scheduled with the reason (e.g. "appointment moved").
    """
    if message.state != MessageState.SCHEDULED:
        raise Conflict(f"message {message.id}: only a scheduled message can be re-planned")
    at = at or utcnow()
    message.due_at = due_at
    if channel is not None:
        message.channel = channel
    message.reason = reason
    message.updated_at = at
    event = MessageEvent(
        message=message,
        at=at,
        from_state=MessageState.SCHEDULED.value,
        to_state=MessageState.SCHEDULED.value,
        reason=reason,
        actor=actor,
    )
    session.add(event)
    return event


def record_created(
    session: Session, message: Message, reason: str, actor: str, *, at: datetime | None = None
) -> MessageEvent:
    """The first event of a message: how it entered the outbox (from no state to its first)."""
    event = MessageEvent(
        message=message,
        at=at or utcnow(),
        from_state=None,
        to_state=MessageState(message.state).value,
        reason=reason,
        actor=actor,
    )
    session.add(event)
    return event
