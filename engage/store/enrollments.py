"""Enrollments (a patient in a sequence) and the anchor events their messages are timed from."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import Boolean, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from engage.store.base import Base, UTCDateTime, str_enum, utcnow


class EnrollmentState(StrEnum):
    ACTIVE = "active"  # enrolled: its scheduled messages go out when due
    PAUSED = "paused"  # staff paused it: scheduled messages wait; resume re-plans them
    COMPLETED = "completed"  # the sequence ran its course
    CANCELLED = "cancelled"  # unenrolled: pending messages were cancelled with the reason


class Enrollment(Base):
    """One patient in one sequence of schedules.yaml."""

    __tablename__ = "enrollment"
    # The dispatcher's once-a-minute look for pauses that have come to their end.
    __table_args__ = (Index(None, "state", "paused_until"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patient.id"), index=True)
    sequence: Mapped[str] = mapped_column(String(64))
    state: Mapped[EnrollmentState] = mapped_column(
        str_enum(EnrollmentState, "state"), default=EnrollmentState.ACTIVE
    )
    reason: Mapped[str] = mapped_column(Text, default="")
    enrolled_at: Mapped[datetime] = mapped_column(UTCDateTime())
    # A pause with an end: the enrollment resumes on its own then (None: until staff resume it).
    paused_until: Mapped[datetime | None] = mapped_column(UTCDateTime())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)

    events: Mapped[list[EnrollmentEvent]] = relationship(
        back_populates="enrollment", lazy="selectin", order_by="EnrollmentEvent.id"
    )


class EnrollmentEvent(Base):
    """An anchor the planner times steps from: `infusion.start` of `appointment:7`, `enrolled`, ...

    One row per (name, key); a cancelled appointment's events stay, marked cancelled.
    """

    __tablename__ = "enrollment_event"
    __table_args__ = (UniqueConstraint("enrollment_id", "name", "key"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    enrollment_id: Mapped[int] = mapped_column(ForeignKey("enrollment.id"))
    name: Mapped[str] = mapped_column(String(32))
    at: Mapped[datetime] = mapped_column(UTCDateTime())
    key: Mapped[str] = mapped_column(String(64), default="")
    occurrence: Mapped[int] = mapped_column(Integer, default=1)
    cancelled: Mapped[bool] = mapped_column(Boolean, default=False)

    enrollment: Mapped[Enrollment] = relationship(back_populates="events")
