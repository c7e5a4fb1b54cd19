"""The outbox: one row per planned send, and one event row per change of its state.

Far-future messages live here, not in the broker: a dispatcher claims due `scheduled` rows. No row
is ever deleted; the message and its events are the audit trail of what was sent and why not.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import Boolean, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from engage.store.base import Base, UTCDateTime, partial_index, str_enum, utcnow


class MessageState(StrEnum):
    SCHEDULED = "scheduled"  # planned: waits in the database until due_at (re-planned on moves)
    QUEUED = "queued"  # scheduled -> queued: a dispatcher claimed it and enqueued a send task
    SENDING = "sending"  # queued -> sending: a live worker holds it (a lease) around the call
    SENT = "sent"  # sending -> sent: the provider accepted it; provider_id is stored
    DELIVERED = "delivered"  # sent -> delivered: the provider's callback confirmed delivery
    FAILED = "failed"  # sending/sent -> failed: permanent provider error or retries exhausted
    UNDELIVERED = "undelivered"  # sent -> undelivered: accepted, then the carrier/mailbox refused
    CANCELLED = "cancelled"  # scheduled/queued -> cancelled: unenrolled, appointment cancelled
    SUPPRESSED = "suppressed"  # -> suppressed: deliberately not sent (no consent, late skip, ...)
    FLAGGED = "flagged"  # -> flagged: a critical message with no open channel: needs staff
    # sending -> uncertain: the request went out and no answer came back (timeout, reset), or
    # its worker died around the call; never resent blindly: settled from the provider's records
    UNCERTAIN = "uncertain"


S = MessageState
# Where each state may go next. Retries and operator requeues go back to scheduled/queued;
# sent, delivered, cancelled and suppressed are final as far as sending goes.
ALLOWED_TRANSITIONS: dict[MessageState, frozenset[MessageState]] = {
    S.SCHEDULED: frozenset({S.QUEUED, S.SENDING, S.CANCELLED, S.SUPPRESSED, S.FLAGGED}),
    S.QUEUED: frozenset({S.SENDING, S.SCHEDULED, S.CANCELLED, S.SUPPRESSED, S.FLAGGED, S.FAILED}),
    S.SENDING: frozenset(
        {S.SENT, S.DELIVERED, S.FAILED, S.SCHEDULED, S.QUEUED, S.SUPPRESSED, S.FLAGGED, S.UNCERTAIN}
    ),
    # A callback or the provider's list settles it; or a worker claims it to ask (-> queued).
    S.UNCERTAIN: frozenset({S.SENT, S.DELIVERED, S.UNDELIVERED, S.FAILED, S.QUEUED}),
    S.SENT: frozenset({S.DELIVERED, S.UNDELIVERED, S.FAILED}),
    S.DELIVERED: frozenset(),
    S.FAILED: frozenset({S.SCHEDULED, S.QUEUED}),
    S.UNDELIVERED: frozenset({S.SCHEDULED, S.QUEUED}),
    S.CANCELLED: frozenset(),
    S.SUPPRESSED: frozenset(),
    S.FLAGGED: frozenset({S.SCHEDULED, S.QUEUED, S.CANCELLED}),
}
PENDING = frozenset({S.SCHEDULED})  # what a re-plan may move
UNSENT = frozenset({S.SCHEDULED, S.QUEUED})  # what a cancellation withdraws
del S


class Message(Base):
    """One send of one step, for one anchor event, on one channel."""

    __tablename__ = "message"
    __table_args__ = (
        # A plan is never stored twice: re-planning updates these rows instead.
        UniqueConstraint("enrollment_id", "step_id", "event_key"),
        Index(None, "state", "due_at"),
        # Lateness over `engage status`'s window (migration 0014).
        Index("ix_message_sent_at", "sent_at"),
        # The dead-letter list reads the newest failures first (ops/failed.py).
        partial_index(
            "ix_message_dead_updated_at",
            "updated_at",
            "id",
            where="state IN ('failed', 'undelivered', 'flagged')",
        ),
        # The backlog (`engage status`, the console's Operations) without reading the heap:
        # the planner cannot know few unsent messages are due, so (state, due_at) lost to a scan.
        partial_index(
            "ix_message_unsent_due_at",
            "due_at",
            "channel",
            where="state IN ('scheduled', 'queued', 'sending')",
        ),
        # Today's "failed safety messages": a few rows among the failed (migration 0017).
        partial_index(
            "ix_message_critical_failed_due_at",
            "due_at",
            where="critical AND state IN ('failed', 'undelivered')",
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patient.id"), index=True)
    enrollment_id: Mapped[int] = mapped_column(ForeignKey("enrollment.id"))
    appointment_id: Mapped[int | None] = mapped_column(ForeignKey("appointment.id"), index=True)
    sequence: Mapped[str] = mapped_column(String(64))
    step_id: Mapped[str] = mapped_column(String(64))
    event_key: Mapped[str] = mapped_column(String(64), default="")
    occurrence: Mapped[int] = mapped_column(Integer, default=1)
    channel: Mapped[str] = mapped_column(String(8))
    template: Mapped[str] = mapped_column(String(128))
    critical: Mapped[bool] = mapped_column(Boolean, default=False)
    due_at: Mapped[datetime] = mapped_column(UTCDateTime())
    state: Mapped[MessageState] = mapped_column(
        str_enum(MessageState, "state"), default=MessageState.SCHEDULED
    )
    reason: Mapped[str] = mapped_column(Text, default="")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    provider: Mapped[str | None] = mapped_column(String(32))
    provider_id: Mapped[str | None] = mapped_column(String(64), index=True)
    provider_status: Mapped[str | None] = mapped_column(String(32))
    last_error_code: Mapped[str | None] = mapped_column(String(32))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)
    queued_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    sending_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # While `sending`: the worker holding it and until when; the holder renews it, recovery
    # takes only a row whose lease ran out (its worker is gone).
    holder: Mapped[str | None] = mapped_column(String(64))
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # Since when the provider has been failing this message (retries run to a deadline from it),
    # and when staff were told a critical one is still undelivered.
    failing_since: Mapped[datetime | None] = mapped_column(UTCDateTime())
    staff_alerted_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # Since when an attempt's outcome is unknown: every later attempt first asks the provider
    # whether it has the message (engage/delivery/settle.py), never resending blindly.
    uncertain_since: Mapped[datetime | None] = mapped_column(UTCDateTime())
    uncertain_until: Mapped[datetime | None] = mapped_column(UTCDateTime())  # that window's end


class MessageEvent(Base):
    """One change of a message's state (or of its due time), with why and by whom."""

    __tablename__ = "message_event"
    # Activity and failure reasons over a window, the dispatcher's last change (migration 0014).
    __table_args__ = (
        Index("ix_message_event_at", "at"),
        Index("ix_message_event_actor_at", "actor", "at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    message_id: Mapped[int] = mapped_column(ForeignKey("message.id"), index=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    from_state: Mapped[str | None] = mapped_column(String(16))  # None: the row was created
    to_state: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str] = mapped_column(Text, default="")
    actor: Mapped[str] = mapped_column(String(64))
    # A re-plan that moved the message: its due time before and after (the timeline's old -> new).
    due_from: Mapped[datetime | None] = mapped_column(UTCDateTime())
    due_to: Mapped[datetime | None] = mapped_column(UTCDateTime())

    # Set instead of message_id for a message not yet flushed: the flush orders the inserts.
    message: Mapped[Message] = relationship()
