"""Patients and their per-channel consent: who may be messaged, where, and since when."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    Boolean,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    func,
    literal_column,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from engage.store.base import Base, UTCDateTime, utcnow

CHANNEL_ORDER = ("sms", "email")  # tie-break after the patient's preferred channel


class Patient(Base):
    """A person the clinic messages. Phone is E.164, email normalised; either may be absent."""

    __tablename__ = "patient"
    # Name search is by prefix of the folded name (`find`, engage.text.fold): engage_fold(name)
    # LIKE 'gar%' can use these on PostgreSQL whatever the collation (text_pattern_ops); SQLite
    # gets plain expression indexes.
    # The lists' order: a name search reads its first page in order from it. Migration 0020
    # builds it in byte order (COLLATE "C") on PostgreSQL, which alembic's reflection of an
    # index expression does not show, so it is not written here (tables are built by the
    # migrations only, never create_all; the name-order test checks the collation).
    __table_args__ = (
        *(
            Index(
                f"ix_patient_{column}_folded",
                func.engage_fold(literal_column(column)).label(f"folded_{column}"),
                postgresql_ops={f"folded_{column}": "text_pattern_ops"},
            )
            for column in ("last_name", "first_name")
        ),
        Index(
            "ix_patient_name_order",
            func.engage_fold(literal_column("last_name")),
            func.engage_fold(literal_column("first_name")),
            "id",
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    external_ref: Mapped[str | None] = mapped_column(String(64), unique=True)
    first_name: Mapped[str] = mapped_column(String(100))
    last_name: Mapped[str] = mapped_column(String(100))
    # Not unique: a family may share one phone or email (STOP from it closes SMS for each).
    phone: Mapped[str | None] = mapped_column(String(16), index=True)
    email: Mapped[str | None] = mapped_column(String(254), index=True)
    timezone: Mapped[str] = mapped_column(String(64))
    locale: Mapped[str] = mapped_column(String(8), default="en")
    preferred_channel: Mapped[str] = mapped_column(String(8), default="sms")
    course_completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)

    consents: Mapped[list[Consent]] = relationship(
        back_populates="patient", lazy="selectin", order_by="Consent.channel"
    )

    def address(self, channel: str) -> str | None:
        """Where `channel` reaches this patient, if it can."""
        return self.phone if channel == "sms" else self.email if channel == "email" else None

    def consent(self, channel: str) -> Consent | None:
        return next((c for c in self.consents if c.channel == channel), None)


class Consent(Base):
    """The current consent of one patient on one channel; its history is in `consent_event`."""

    __tablename__ = "consent"
    __table_args__ = (UniqueConstraint("patient_id", "channel"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patient.id"))
    channel: Mapped[str] = mapped_column(String(8))
    granted: Mapped[bool] = mapped_column(Boolean)
    changed_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    # Who changed it: "csv-import", "api", "sms-stop", "twilio-21610", "sendgrid-unsubscribe", ...
    source: Mapped[str] = mapped_column(String(32))
    # The version of the "SMS and email are not encrypted" notice the patient acknowledged.
    notice: Mapped[str] = mapped_column(Text, default="")

    patient: Mapped[Patient] = relationship(back_populates="consents")


class ConsentEvent(Base):
    """One consent decision, never updated or deleted: the ledger an audit reads (append-only).

    `consent` holds the current decision per channel; this holds every one that was applied.
    """

    __tablename__ = "consent_event"
    __table_args__ = (Index("ix_consent_event_patient_channel_at", "patient_id", "channel", "at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patient.id"))
    channel: Mapped[str] = mapped_column(String(8))
    granted: Mapped[bool] = mapped_column(Boolean)
    at: Mapped[datetime] = mapped_column(UTCDateTime())
    source: Mapped[str] = mapped_column(String(32))
    actor: Mapped[str] = mapped_column(String(64))
    origin: Mapped[str] = mapped_column(String(16))  # patient, express, staff, import, feed, system
    notice: Mapped[str] = mapped_column(Text, default="")
    reason: Mapped[str] = mapped_column(Text, default="")


def consented_channels(patient: Patient) -> tuple[str, ...]:
    """Channels open to this patient (consent granted and an address on file), preferred first."""
    order = (
        patient.preferred_channel,
        *(c for c in CHANNEL_ORDER if c != patient.preferred_channel),
    )
    granted = {c.channel for c in patient.consents if c.granted}
    return tuple(c for c in order if c in granted and patient.address(c))
