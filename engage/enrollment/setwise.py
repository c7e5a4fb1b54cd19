"""Booking, moving and cancelling one appointment of an enrolled patient, set-wise.

The rows `add_appointment`, `move_appointment_in` and `cancel_appointment_in` write (appointment,
enrollment events, re-planned messages and their events, the change's notice, audit), from one
read of each table in Core instead of the ORM's unit of work: the HL7 feed applies thousands of
SIU an hour, and the ORM's per-object work was most of each one's CPU. The pure planner still
says what every enrollment gets; message rows change through `engage.store.message_states`.
Anything out of the ordinary (an overlap, an unknown sequence, a time without a zone) returns
None before anything is written: the caller takes the service path, which words the error the
way every front door does. tests/integration/test_hl7_setwise.py proves the rows are the same.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, cast

from sqlalchemy import Table, and_, insert, select, update
from sqlalchemy.orm import Session

from engage.enrollment.anchors import END, START, infusion_length
from engage.enrollment.booking import LIVE
from engage.enrollment.bulk_plan import Newcomer, plan_fresh
from engage.enrollment.bulk_store import store_courses
from engage.enrollment.common import OPEN
from engage.enrollment.notices import CANCELLED, MOVED
from engage.enrollment.setwise_change import Appt, Change, Enrolled, Event, Who
from engage.errors import PlanningError
from engage.planning.planner import AnchorEvent
from engage.schedule.models import Schedule
from engage.store.appointments import Appointment, AppointmentState
from engage.store.enrollments import Enrollment, EnrollmentEvent
from engage.store.messages import PENDING, UNSENT
from engage.store.patients import CHANNEL_ORDER, Consent, Patient

_APPOINTMENT = cast(Table, Appointment.__table__)
_ENROLLMENT = cast(Table, Enrollment.__table__)
_EVENT = cast(Table, EnrollmentEvent.__table__)
_PATIENT = cast(Table, Patient.__table__)
_CONSENT = cast(Table, Consent.__table__)
__all__ = ["Enrolled", "Newcomer", "Who", "appointments", "book", "cancel", "enroll_first"]
__all__ += ["patient_by_ref"]
__all__ += ["enrollments", "move"]


def patient_by_ref(session: Session, ref: str) -> Newcomer | None:
    """The patient whose external_ref is `ref`, as planning needs them, in one read (its
    channels as `consented_channels` gives them: granted, an address on file, preferred first)."""
    p, c = _PATIENT, _CONSENT
    query = (
        select(p.c.id, p.c.timezone, p.c.preferred_channel, p.c.phone, p.c.email)
        .add_columns(p.c.course_completed_at, c.c.channel)
        .select_from(p.outerjoin(c, and_(c.c.patient_id == p.c.id, c.c.granted.is_(True))))
        .where(p.c.external_ref == ref)
    )
    rows = session.connection().execute(query).all()
    if not rows:
        return None
    pid, zone, preferred, phone, email, completed, _ = rows[0]
    granted = {row[-1] for row in rows}
    addresses = {"sms": phone, "email": email}
    order = (preferred, *(channel for channel in CHANNEL_ORDER if channel != preferred))
    channels = tuple(ch for ch in order if ch in granted and addresses.get(ch))
    return Newcomer(pid, zone, channels, completed)


def appointments(session: Session, patient_id: int) -> list[Appt]:
    """`ranked_appointments`: the patient's non-cancelled appointments, first infusion first."""
    t = _APPOINTMENT
    query = (
        select(t.c.id, t.c.starts_at, t.c.ends_at, t.c.state)
        .where(t.c.patient_id == patient_id, t.c.state != AppointmentState.CANCELLED)
        .order_by(t.c.starts_at, t.c.id)
    )
    return [Appt(*row) for row in session.connection().execute(query)]


def enrollments(session: Session, patient_id: int, *, only_open: bool = True) -> list[Enrolled]:
    """The patient's enrollments (open ones, or all) in id order, with their events, one read."""
    e, ev = _ENROLLMENT, _EVENT
    query = (
        select(e.c.id, e.c.sequence, e.c.state, ev.c.id, ev.c.name, ev.c.at, ev.c.key)
        .add_columns(ev.c.occurrence, ev.c.cancelled)
        .select_from(e.outerjoin(ev, ev.c.enrollment_id == e.c.id))
        .where(e.c.patient_id == patient_id)
        .order_by(e.c.id, ev.c.id)
    )
    if only_open:
        query = query.where(e.c.state.in_(OPEN))
    found: dict[int, Enrolled] = {}
    for eid, sequence, state, *event in session.connection().execute(query):
        enrolled = found.setdefault(eid, Enrolled(eid, sequence, state))
        if event[0] is not None:
            enrolled.events.append(Event(*event))
    return list(found.values())


def book(
    session: Session,
    schedule: Schedule,
    who: Who,
    among: list[Enrolled],
    starts_at: datetime,
    ends_at: datetime | None,
    *,
    location: str,
    now: datetime,
    actor: str,
) -> int | None:
    """`add_appointment` for a patient whose open enrollments are `among`; the new id."""
    ranked = appointments(session, who.id)
    end = _checked_end(schedule, starts_at, ends_at)
    if end is None or _overlaps(ranked, starts_at, end) or not _known(schedule, among):
        return None
    values = {"patient_id": who.id, "starts_at": starts_at, "ends_at": end, "location": location}
    statement = insert(_APPOINTMENT).values(
        **values, state=AppointmentState.SCHEDULED, created_at=now, updated_at=now
    )
    new_id = int(session.connection().execute(statement.returning(_APPOINTMENT.c.id)).scalar_one())
    after = {"patient_id": who.id, "starts_at": starts_at, "ends_at": end}
    change = Change(session, schedule, who, now, actor)
    change.audits.append(_audit("appointment.create", new_id, None, after, now, actor))
    booked = Appt(new_id, starts_at, end, AppointmentState.SCHEDULED)
    change.follow(among, _ranked([*ranked, booked]), "appointment added", PENDING)
    change.write()
    return new_id


def enroll_first(
    session: Session,
    schedule: Schedule,
    patient: Newcomer,
    sequences: list[str],
    starts_at: datetime,
    ends_at: datetime | None,
    *,
    location: str,
    now: datetime,
    actor: str,
) -> int | None:
    """`enroll_course_in` for a patient with no open enrollment and no booked appointment (a
    first infusion booking): bulk enrollment's in-memory plan and set-wise store; the new
    appointment's id."""
    if appointments(session, patient.id):
        return None
    events = [AnchorEvent(START, starts_at), *([AnchorEvent(END, ends_at)] if ends_at else [])]
    try:
        course = plan_fresh(schedule, patient, sequences, events, now=now, location=location)
    except (PlanningError, ValueError):
        return None
    if course is None:
        return None
    store_courses(session, [course], now=now, actor=actor)
    t = _APPOINTMENT
    query = select(t.c.id).where(t.c.patient_id == patient.id, t.c.starts_at == course.slots[0][0])
    return int(session.connection().execute(query).scalar_one())


def move(
    session: Session,
    schedule: Schedule,
    who: Who,
    appointment_id: int,
    starts_at: datetime,
    ends_at: datetime | None,
    *,
    now: datetime,
    actor: str,
) -> bool:
    """`move_appointment_in` for an open appointment of the patient; False: not done here."""
    ranked = appointments(session, who.id)
    appointment = next((a for a in ranked if a.id == appointment_id and a.state in LIVE), None)
    if appointment is None:
        return False
    if ends_at is None:
        ends_at = starts_at + (appointment.ends_at - appointment.starts_at)
    end = _checked_end(schedule, starts_at, ends_at)
    among = enrollments(session, who.id)
    if (
        end is None
        or _overlaps(ranked, starts_at, end, appointment_id)
        or not _known(schedule, among)
    ):
        return False
    before = {"starts_at": appointment.starts_at, "ends_at": appointment.ends_at}
    appointment.starts_at, appointment.ends_at, appointment.state = (
        starts_at,
        end,
        AppointmentState.SCHEDULED,
    )
    session.connection().execute(
        update(_APPOINTMENT)
        .where(_APPOINTMENT.c.id == appointment_id)
        .values(
            starts_at=starts_at,
            ends_at=end,
            updated_at=now,
            state=AppointmentState.SCHEDULED,
            confirmed_at=None,
        )
    )
    change = Change(session, schedule, who, now, actor)
    change.follow(among, _ranked(ranked), "appointment moved", PENDING, notice=appointment)
    change.notify(among, appointment, MOVED)
    after = {"starts_at": starts_at, "ends_at": end}
    change.audits.append(_audit("appointment.move", appointment_id, before, after, now, actor))
    change.write()
    return True


def cancel(
    session: Session,
    schedule: Schedule,
    who: Who,
    appointment_id: int,
    *,
    reason: str,
    now: datetime,
    actor: str,
) -> bool:
    """`cancel_appointment_in` for an open appointment of the patient; False: not done here."""
    ranked = appointments(session, who.id)
    appointment = next((a for a in ranked if a.id == appointment_id and a.state in LIVE), None)
    among = enrollments(session, who.id)
    if appointment is None or not _known(schedule, among):
        return False
    before = appointment.state
    appointment.state = AppointmentState.CANCELLED
    session.connection().execute(
        update(_APPOINTMENT)
        .where(_APPOINTMENT.c.id == appointment_id)
        .values(state=AppointmentState.CANCELLED, updated_at=now)
    )
    change = Change(session, schedule, who, now, actor)
    change.follow(among, _ranked(ranked), reason, UNSENT, notice=appointment)
    change.notify(among, appointment, CANCELLED)
    after = {"state": AppointmentState.CANCELLED, "reason": reason}
    change.audits.append(
        _audit("appointment.cancel", appointment_id, {"state": before}, after, now, actor)
    )
    change.write()
    return True


def _ranked(appointments: list[Appt]) -> list[Appt]:
    kept = [a for a in appointments if a.state != AppointmentState.CANCELLED]
    return sorted(kept, key=lambda a: (a.starts_at, a.id))


def _overlaps(ranked: list[Appt], starts_at: datetime, ends_at: datetime, exclude: int = 0) -> bool:
    return any(
        a.state in LIVE and a.id != exclude and a.starts_at < ends_at and starts_at < a.ends_at
        for a in ranked
    )


def _known(schedule: Schedule, among: list[Enrolled]) -> bool:
    return all(e.sequence in schedule.sequences for e in among)


def _checked_end(
    schedule: Schedule, starts_at: datetime, ends_at: datetime | None
) -> datetime | None:
    """`_checked_end`'s end, or None where it would raise (the service path says why)."""
    for moment in (starts_at, ends_at):
        if moment is not None and (moment.tzinfo is None or moment.utcoffset() is None):
            return None
    end = ends_at or starts_at + infusion_length(schedule)
    return end if end > starts_at else None


def _audit(
    action: str,
    entity_id: int,
    before: dict[str, Any] | None,
    after: dict[str, Any],
    now: datetime,
    actor: str,
) -> dict[str, Any]:
    """An audit_log row as `engage.store.audit.audit` writes it (datetimes as ISO text)."""

    def plain(values: dict[str, Any] | None) -> dict[str, Any] | None:
        if values is None:
            return None
        return {
            k: v.isoformat() if isinstance(v, datetime) else getattr(v, "value", v)
            for k, v in values.items()
        }

    return {
        "at": now,
        "actor": actor,
        "action": action,
        "entity": "appointment",
        "entity_id": str(entity_id),
        "before": plain(before),
        "after": plain(after),
    }
