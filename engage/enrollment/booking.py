"""A patient's course of appointments: booked once, never two at the same time.

Every sequence of the course (pre-infusion, post-infusion, ...) plans from the same appointment
rows, so booking is keyed by the patient and the start time: asking for an infusion the patient
already has reuses it, and one that overlaps another is refused with that other one named.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from engage.errors import Conflict
from engage.store.appointments import Appointment, AppointmentState
from engage.store.audit import audit_change
from engage.store.patients import Patient

LIVE = (AppointmentState.SCHEDULED, AppointmentState.CONFIRMED)  # appointments that hold a slot


def live_appointments(session: Session, patient_id: int) -> list[Appointment]:
    """The patient's booked (not cancelled, not completed) appointments, soonest first."""
    return list(
        session.scalars(
            select(Appointment)
            .where(Appointment.patient_id == patient_id, Appointment.state.in_(LIVE))
            .order_by(Appointment.starts_at, Appointment.id)
        )
    )


def describe(appointment: Appointment, zone: str) -> str:
    """`appointment 12 (2027-03-10 09:00-09:45 EST)`: how errors name an appointment."""
    tz = ZoneInfo(zone)
    start, end = appointment.starts_at.astimezone(tz), appointment.ends_at.astimezone(tz)
    return f"appointment {appointment.id} ({start:%Y-%m-%d %H:%M}-{end:%H:%M} {start:%Z})"


def overlapping(
    appointments: Iterable[Appointment],
    starts_at: datetime,
    ends_at: datetime,
    *,
    exclude: int | None = None,
) -> Appointment | None:
    """The first appointment sharing any minute with [starts_at, ends_at), if one does."""
    for other in appointments:
        if other.id != exclude and other.starts_at < ends_at and starts_at < other.ends_at:
            return other
    return None


def refuse_overlap(
    session: Session,
    patient: Patient,
    starts_at: datetime,
    ends_at: datetime,
    *,
    exclude: int | None = None,
    live: Iterable[Appointment] | None = None,
) -> None:
    """Raise Conflict naming the appointment that [starts_at, ends_at) would overlap.

    `live` is the patient's `live_appointments` when the caller holds them (read otherwise)."""
    if live is None:
        live = live_appointments(session, patient.id)
    other = overlapping(live, starts_at, ends_at, exclude=exclude)
    if other is not None:
        zone = ZoneInfo(patient.timezone)
        raise Conflict(
            f"an appointment at {starts_at.astimezone(zone):%Y-%m-%d %H:%M %Z} overlaps "
            f"{describe(other, patient.timezone)} of patient {patient.id}"
        )


def book_appointment(
    session: Session,
    patient: Patient,
    starts_at: datetime,
    ends_at: datetime,
    location: str,
    *,
    now: datetime,
    actor: str,
    live: Iterable[Appointment] | None = None,
) -> Appointment:
    """Store a new appointment (refusing an overlap with `live`, read when not given) and audit
    it; nothing is re-planned here."""
    refuse_overlap(session, patient, starts_at, ends_at, live=live)
    appointment = Appointment(
        patient_id=patient.id,
        starts_at=starts_at,
        ends_at=ends_at,
        location=location,
        created_at=now,
        updated_at=now,
    )
    session.add(appointment)
    session.flush()
    audit_change(
        session,
        appointment,
        "appointment.create",
        actor=actor,
        after={"patient_id": patient.id, "starts_at": starts_at, "ends_at": ends_at},
        at=now,
    )
    return appointment


def book_course(
    session: Session,
    patient: Patient,
    slots: Iterable[tuple[datetime, datetime]],
    location: str,
    *,
    now: datetime,
    actor: str,
) -> tuple[list[Appointment], list[Appointment]]:
    """The course's appointments for these (start, end) slots: (all of them, the newly booked).

    A slot starting when one of the patient's appointments already starts is that appointment
    (enrolling in post-infusion after pre-infusion books nothing twice); a slot given twice is
    one appointment; any other overlap is refused.
    """
    existing = {a.starts_at: a for a in live_appointments(session, patient.id)}
    course: list[Appointment] = []
    booked: list[Appointment] = []
    for starts_at, ends_at in sorted(set(slots)):
        appointment = existing.get(starts_at)
        if appointment is None:
            appointment = book_appointment(
                session,
                patient,
                starts_at,
                ends_at,
                location,
                now=now,
                actor=actor,
                live=list(existing.values()),
            )
            existing[starts_at] = appointment
            booked.append(appointment)
        if appointment not in course:
            course.append(appointment)
    return course, booked
