"""The outbox columns `engage status` and /metrics read, as SQLAlchemy Core tables.

Not the ORM models: importing anything under `engage.store` registers every model (SQLAlchemy's
ORM and the model registry were 0.75 s of a 1.8 s `engage status`). These name only the
columns read here; tests hold them (and the constants below) to the models'.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import Boolean, Column, DateTime, Integer, MetaData, String, Table, Text

# engage.store.messages.MessageState's values, engage.delivery.claim.DISPATCHER and
# engage.schedule.models.CHANNELS (tests/unit/test_outbox_tables.py keeps them equal).
SCHEDULED, QUEUED, SENDING = "scheduled", "queued", "sending"
SENT, DELIVERED = "sent", "delivered"
FAILED, UNDELIVERED, FLAGGED = "failed", "undelivered", "flagged"
DISPATCHER = "dispatcher"
CHANNELS = ("sms", "email")

_metadata = MetaData()
# Instants: timestamptz on PostgreSQL (aware), the naive UTC reading on SQLite (see `utc`).
message = Table(
    "message",
    _metadata,
    Column("id", Integer, primary_key=True),
    Column("channel", String(8)),
    Column("critical", Boolean),
    Column("due_at", DateTime(timezone=True)),
    Column("state", String(16)),
    Column("sent_at", DateTime(timezone=True)),
)
message_event = Table(
    "message_event",
    _metadata,
    Column("id", Integer, primary_key=True),
    Column("message_id", Integer),
    Column("at", DateTime(timezone=True)),
    Column("to_state", String(16)),
    Column("reason", Text),
    Column("actor", String(64)),
)


def utc(value: datetime) -> datetime:
    """An instant as a parameter: in UTC, so SQLite's naive reading of it is the stored one."""
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"naive datetime {value.isoformat()}: pass an aware datetime")
    return value.astimezone(UTC)


def aware(value: datetime | None) -> datetime | None:
    """An instant read back: SQLite returns the naive UTC reading, PostgreSQL an aware one."""
    if value is None:
        return None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
