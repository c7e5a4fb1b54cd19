"""A patient (replying C) or staff confirms an appointment; planning is unaffected by it."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from engage.errors import Conflict
from engage.store.appointments import Appointment, AppointmentState
from engage.store.audit import audit_change

_OPEN = (AppointmentState.SCHEDULED, AppointmentState.CONFIRMED)


def next_appointment(session: Session, patient_id: int, now: datetime) -> Appointment | None:
    """The patient's next appointment still to come (scheduled or already confirmed)."""
    query = (
        select(Appointment)
        .where(
            Appointment.patient_id == patient_id,
            Appointment.state.in_(_OPEN),
            Appointment.starts_at > now,
        )
        .order_by(Appointment.starts_at, Appointment.id)
        .limit(1)
    )
    return session.execute(query).scalar_one_or_none()


def confirm(session: Session, appointment: Appointment, *, now: datetime, actor: str) -> bool:
    """Mark `appointment` confirmed (in the caller's transaction); False if it already was."""
    if appointment.state == AppointmentState.CONFIRMED:
        return False
    if appointment.state != AppointmentState.SCHEDULED:
        raise Conflict(f"appointment {appointment.id} is {appointment.state}")
    appointment.state = AppointmentState.CONFIRMED
    appointment.confirmed_at = now
    appointment.updated_at = now
    audit_change(
        session,
        appointment,
        "appointment.confirm",
        actor=actor,
        before={"state": AppointmentState.SCHEDULED},
        after={"state": AppointmentState.CONFIRMED, "confirmed_at": now},
        at=now,
    )
    return True
