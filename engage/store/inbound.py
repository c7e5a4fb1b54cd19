"""What providers tell us: webhook deliveries already handled, and the texts patients send.

`WebhookEvent` makes webhooks idempotent: a provider retries a delivery it believes failed, and
the unique (provider, event_id) pair turns the second delivery into a no-op. `InboundMessage`
keeps every SMS a patient sent, STOP included, so staff can read what was answered and why, and
marks the ones staff handled (who and when) so the inbox shows what is still to read.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from engage.store.base import Base, UTCDateTime, partial_index, utcnow


class WebhookEvent(Base):
    """One provider event already applied (SendGrid `sg_event_id`, a Twilio idempotency key)."""

    __tablename__ = "webhook_event"
    __table_args__ = (UniqueConstraint("provider", "event_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    provider: Mapped[str] = mapped_column(String(16))
    event_id: Mapped[str] = mapped_column(String(200))
    received_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class InboundMessage(Base):
    """One SMS a patient (or an unknown number) sent to the clinic's number."""

    __tablename__ = "inbound_message"
    # The inbox: one keyword's texts, newest first; and only those nobody handled yet.
    __table_args__ = (
        Index("ix_inbound_message_keyword_id", "keyword", "id"),
        partial_index("ix_inbound_message_unhandled", "keyword", "id", where="handled_at IS NULL"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    patient_id: Mapped[int | None] = mapped_column(ForeignKey("patient.id"), index=True)
    provider_id: Mapped[str] = mapped_column(String(64), default="")  # Twilio MessageSid
    # The sender's number, for staff to call back; its hash lets logs and joins avoid it.
    from_phone: Mapped[str] = mapped_column(String(32))
    from_hash: Mapped[str] = mapped_column(String(64), index=True)
    body: Mapped[str] = mapped_column(Text, default="")
    keyword: Mapped[str] = mapped_column(String(16))  # engage.consent.keywords.Keyword value
    received_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, index=True)
    # Staff read it and did what it asked (engage.ops.worklist.mark_handled); None: still to read.
    handled_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    handled_by: Mapped[str | None] = mapped_column(String(64))
