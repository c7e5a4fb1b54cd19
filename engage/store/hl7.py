"""The HL7 feed's journal: every message the EHR sent, raw, and the appointments it named.

`Hl7Message` is written before the ACK goes back (durable before acknowledged) and is the
de-duplication key: the sender's (application, facility, MSH-10) pair is unique, so a resent
message finds its first copy and is answered the same way. Its `raw` text is PHI: it stays in the
database and is never logged. `Hl7Appointment` ties the filler's appointment id (SCH-2, else
SCH-1) to engage's appointment and remembers the MSH-7 of the newest message applied to it, so an
older message that arrives late is recorded and not applied over newer state.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from engage.store.base import Base, UTCDateTime, str_enum, utcnow


class Hl7State(StrEnum):
    APPLIED = "applied"  # AA: stored and applied to patients / appointments
    IGNORED = "ignored"  # AA: nothing for engage (unmapped appointment type, unused event)
    STALE = "stale"  # AA: older than what was already applied for its appointment
    FAILED = "failed"  # AE: a dead letter; staff fix the cause and re-apply it


class Hl7Message(Base):
    """One HL7 v2 message received over MLLP (or re-applied by staff)."""

    __tablename__ = "hl7_message"
    __table_args__ = (UniqueConstraint("sender", "control_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    sender: Mapped[str] = mapped_column(String(200))  # MSH-3^MSH-4
    control_id: Mapped[str] = mapped_column(String(200))  # MSH-10
    message_type: Mapped[str] = mapped_column(String(16), index=True)  # "SIU^S12"
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime())  # MSH-7
    received_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, index=True)
    raw: Mapped[str] = mapped_column(Text)  # PHI: never logged
    state: Mapped[Hl7State] = mapped_column(str_enum(Hl7State, "state"), index=True)
    ack_code: Mapped[str] = mapped_column(String(2))  # what the sender was answered
    reason: Mapped[str] = mapped_column(Text, default="")  # names fields, never their values
    error_field: Mapped[str] = mapped_column(String(16), default="")  # "PID-3", for ERR-2
    attempts: Mapped[int] = mapped_column(Integer, default=1)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)


class Hl7Appointment(Base):
    """The filler's appointment id and what engage last applied for it."""

    __tablename__ = "hl7_appointment"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    filler_id: Mapped[str] = mapped_column(String(200), unique=True)
    appointment_id: Mapped[int | None] = mapped_column(ForeignKey("appointment.id"), index=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patient.id"), index=True)
    status: Mapped[str] = mapped_column(String(16))  # booked, cancelled, no-show
    version: Mapped[datetime] = mapped_column(UTCDateTime())  # MSH-7 of the newest applied
    message_id: Mapped[int | None] = mapped_column(ForeignKey("hl7_message.id"))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)
    # Set to a journal row not yet inserted: one flush inserts the row, then this (no UPDATE).
    message: Mapped[Hl7Message | None] = relationship()
