"""Booking, moving and cancelling infusion appointments, re-planning exactly what they anchor.

Every open enrollment of the patient follows: moving an appointment moves its still-scheduled
messages (same ids, new due times); cancelling withdraws its unsent ones. A change of rank (the
second infusion becoming the first) re-plans the other appointments whose occurrence changed.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from engage.enrollment.anchors import infusion_length, ranked_appointments
from engage.enrollment.booking import LIVE, book_appointment, refuse_overlap
from engage.enrollment.common import get_patient, open_enrollments, transaction
from engage.enrollment.notices import CANCELLED, MOVED, earlier_notices, notify_change
from engage.enrollment.replan import Change
from engage.enrollment.service import follow_appointments
from engage.errors import Conflict, NotFound, PlanningError
from engage.schedule.models import Schedule
from engage.store.appointments import Appointment, AppointmentState
from engage.store.audit import audit_change
from engage.store.enrollments import Enrollment
from engage.store.messages import UNSENT


@transaction
def add_appointment(
    session: Session,
    schedule: Schedule,
    patient_id: int,
    starts_at: datetime,
    ends_at: datetime | None = None,
    *,
    location: str = "",
    now: datetime,
    actor: str,
    enrollments: list[Enrollment] | None = None,
) -> Appointment:
    """Book an infusion and plan its messages in every open enrollment of the patient.

    `enrollments` is the patient's `open_enrollments` when the caller read them already."""
    patient = get_patient(session, patient_id)
    ends_at = _checked_end(schedule, starts_at, ends_at)
    ranked = ranked_appointments(session, patient_id)  # one read: the overlap check and ranks
    appointment = book_appointment(
        session, patient, starts_at, ends_at, location, now=now, actor=actor, live=_live(ranked)
    )
    if enrollments is None:
        enrollments = open_enrollments(session, patient_id)
    added = Change(now, actor, "appointment added")
    follow_appointments(
        session, schedule, patient, enrollments, added, appointments=_ranked([*ranked, appointment])
    )
    return appointment


def move_appointment_in(
    session: Session,
    schedule: Schedule,
    appointment_id: int,
    starts_at: datetime,
    ends_at: datetime | None = None,
    *,
    now: datetime,
    actor: str,
) -> Appointment:
    """Move an appointment (keeping its length unless `ends_at` is given) and re-plan its pending
    messages in every open enrollment; an overlap with another appointment is refused (Conflict).

    `move_appointment` is this in its own transaction; here it runs in the caller's (a preview
    runs it and rolls back)."""
    appointment = _get_open(session, appointment_id)
    if ends_at is None:
        ends_at = starts_at + (appointment.ends_at - appointment.starts_at)
    ends_at = _checked_end(schedule, starts_at, ends_at)
    patient = get_patient(session, appointment.patient_id)
    ranked = ranked_appointments(session, patient.id)  # one read: the overlap check and ranks
    refuse_overlap(session, patient, starts_at, ends_at, exclude=appointment_id, live=_live(ranked))
    before = {"starts_at": appointment.starts_at, "ends_at": appointment.ends_at}
    appointment.starts_at, appointment.ends_at, appointment.updated_at = starts_at, ends_at, now
    # A confirmation was for the old time: the patient confirms the new one again.
    appointment.state, appointment.confirmed_at = AppointmentState.SCHEDULED, None
    moved = Change(now, actor, "appointment moved")
    after = {"starts_at": starts_at, "ends_at": ends_at}
    _follow(session, schedule, appointment, MOVED, moved, before, after, ranked=_ranked(ranked))
    return appointment


def cancel_appointment_in(
    session: Session,
    schedule: Schedule,
    appointment_id: int,
    *,
    reason: str = "appointment cancelled",
    now: datetime,
    actor: str,
) -> Appointment:
    """Cancel an appointment and every message of it not yet sent (with `reason`).

    `cancel_appointment` is this in its own transaction; here it runs in the caller's."""
    appointment = _get_open(session, appointment_id)
    before = appointment.state
    appointment.state, appointment.updated_at = AppointmentState.CANCELLED, now
    cancelled = Change(now, actor, reason, withdraw=UNSENT)
    after = {"state": appointment.state, "reason": reason}
    _follow(session, schedule, appointment, CANCELLED, cancelled, {"state": before}, after)
    return appointment


move_appointment = transaction(move_appointment_in)
cancel_appointment = transaction(cancel_appointment_in)
cancel_appointment.__doc__ = (
    """Cancel an appointment and every message of it not yet sent (with `reason`)."""
)


_AUDITED = {MOVED: "appointment.move", CANCELLED: "appointment.cancel"}


def _follow(
    session: Session,
    schedule: Schedule,
    appointment: Appointment,
    notice: str,
    change: Change,
    before: dict[str, Any],
    after: dict[str, Any],
    *,
    ranked: list[Appointment] | None = None,
) -> None:
    """What every move and cancellation does once the appointment row is changed: re-plan every
    open enrollment of its patient (`ranked`: the patient's ranked appointments, current, when
    the caller holds them), plan the notice of the change (`notice`: MOVED or CANCELLED), which
    withdraws the appointment's earlier notices (locked in the re-plan's read), and audit it
    (`before` and `after`: the row's changed fields)."""
    patient = get_patient(session, appointment.patient_id)
    enrollments = open_enrollments(session, appointment.patient_id)
    followed = follow_appointments(
        session,
        schedule,
        patient,
        enrollments,
        change,
        appointments=ranked,
        also=earlier_notices(appointment),
    )
    notify_change(
        session,
        schedule,
        appointment,
        notice,
        now=change.now,
        actor=change.actor,
        among=enrollments,
        locked_by_enrollment=followed.locked,
        earlier=followed.also,
    )
    audit_change(
        session,
        appointment,
        _AUDITED[notice],
        actor=change.actor,
        before=before,
        after=after,
        at=change.now,
    )


def _live(ranked: list[Appointment]) -> list[Appointment]:
    """The booked ones among ranked appointments (what `live_appointments` reads), in order."""
    return [a for a in ranked if a.state in LIVE]


def _ranked(appointments: list[Appointment]) -> list[Appointment]:
    """Non-cancelled appointments in `ranked_appointments`' order, after changes in memory."""
    kept = [a for a in appointments if a.state != AppointmentState.CANCELLED]
    return sorted(kept, key=lambda a: (a.starts_at, a.id))


def _get_open(session: Session, appointment_id: int) -> Appointment:
    appointment = session.get(Appointment, appointment_id)
    if appointment is None:
        raise NotFound(f"appointment {appointment_id} not found")
    if appointment.state in (AppointmentState.CANCELLED, AppointmentState.COMPLETED):
        raise Conflict(f"appointment {appointment_id} is {appointment.state}")
    return appointment


def _checked_end(schedule: Schedule, starts_at: datetime, ends_at: datetime | None) -> datetime:
    for moment in (starts_at, ends_at):
        if moment is not None and (moment.tzinfo is None or moment.utcoffset() is None):
            raise PlanningError(f"appointment time {moment.isoformat()} has no time zone")
    ends_at = ends_at or starts_at + infusion_length(schedule)
    if ends_at <= starts_at:
        raise PlanningError(f"appointment end {ends_at.isoformat()} is not after its start")
    return ends_at
