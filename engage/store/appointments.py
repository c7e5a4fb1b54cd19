"""Infusion appointments: each one is a pair of anchor events (its start and its end)."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import TYPE_CHECKING

from sqlalchemy import ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from engage.store.base import Base, UTCDateTime, str_enum, utcnow

if TYPE_CHECKING:
    from engage.store.messages import Message


class AppointmentState(StrEnum):
    SCHEDULED = "scheduled"  # booked by staff
    CONFIRMED = "confirmed"  # the patient replied C (or staff confirmed)
    CANCELLED = "cancelled"  # its pending messages were cancelled
    COMPLETED = "completed"  # the infusion took place


class Appointment(Base):
    """One booked infusion of a patient."""

    __tablename__ = "appointment"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patient.id"), index=True)
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)  # the day's list
    ends_at: Mapped[datetime] = mapped_column(UTCDateTime())
    location: Mapped[str] = mapped_column(String(200), default="")
    state: Mapped[AppointmentState] = mapped_column(
        str_enum(AppointmentState, "state"), default=AppointmentState.SCHEDULED
    )
    confirmed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)
    # Read-only, loaded when asked (by due time): planning owns the writes of these rows.
    messages: Mapped[list[Message]] = relationship(
        viewonly=True, order_by="[Message.due_at, Message.id]"
    )

    @property
    def event_key(self) -> str:
        """The key its anchor events and planned messages carry."""
        return f"appointment:{self.id}"
