"""SIU scheduling messages applied through the appointment and enrollment services.

S12 books, S13/S14 move, S15/S17 cancel, S26 records a no-show (and, by the clinic's rule,
withdraws what the appointment anchors). Only appointment types the clinic maps to infusions
(schedules.yaml `hl7.infusions`) are applied; the rest are acknowledged and recorded as ignored.
A message older (MSH-7) than the newest one applied to its appointment is recorded as stale and
changes nothing, so a late reschedule never overwrites a newer one. A book or move after a cancel
books again (a new engage appointment: a cancelled one stays cancelled, as its audit trail says).
"""

from __future__ import annotations

from datetime import datetime
from typing import cast
from zoneinfo import ZoneInfo

import hl7
from sqlalchemy import Table, insert, select, update
from sqlalchemy.orm import Session

from engage.enrollment import setwise
from engage.enrollment.appointments import add_appointment, cancel_appointment, move_appointment
from engage.enrollment.common import OPEN
from engage.enrollment.course import Slot, enroll_course
from engage.enrollment.setwise_change import Appt
from engage.errors import InvalidInput, NotFound
from engage.hl7.booking import Booking, read_booking
from engage.hl7.fields import Header, required
from engage.hl7.identity import identifier
from engage.hl7.outcome import ACTOR, Link, Outcome
from engage.schedule.hl7 import Hl7Infusion
from engage.schedule.models import Schedule
from engage.store.appointments import Appointment, AppointmentState
from engage.store.hl7 import Hl7Appointment, Hl7State

CLOSED = (AppointmentState.CANCELLED, AppointmentState.COMPLETED)
_LINK = cast(Table, Hl7Appointment.__table__)
_APPOINTMENT = cast(Table, Appointment.__table__)


def apply_siu(
    session: Session,
    schedule: Schedule,
    message: hl7.Message,
    head: Header,
    now: datetime,
    *,
    set_wise: bool = True,
) -> Outcome:
    """Apply one SIU; `set_wise` False takes the ORM services only (the fast path's yardstick)."""
    event = head.message_type.partition("^")[2]
    if event not in ("S12", "S13", "S14", "S15", "S17", "S26"):
        return Outcome.ignored(f"SIU^{event} is not an event engage reads")
    booking = read_booking(message, event, ZoneInfo(schedule.clinic.timezone))
    rule = schedule.hl7.infusion(booking.types, booking.locations)
    if rule is None:
        return Outcome.ignored("appointment type (SCH-7, AIS-3) is not a mapped infusion")
    if head.sent_at is None:
        raise InvalidInput("MSH-7", "no readable message time: order cannot be checked")
    ref = identifier(required(message, "PID"), 3, schedule.hl7.identifier_authority, "PID-3")
    patient = setwise.patient_by_ref(session, ref)
    if patient is None:
        raise NotFound("PID-3: patient not known to engage (its ADT^A04 comes first)")
    link_id, version, linked = _link(session, booking.filler_id)
    if version is not None and head.sent_at < version:
        return Outcome(Hl7State.STALE, "older (MSH-7) than the message already applied")
    if linked is not None and linked.state == AppointmentState.COMPLETED:
        return Outcome.ignored("the infusion took place: later changes are not applied to it")
    changes = _Changes(session, schedule, now, booking, (patient, rule), set_wise)
    current = None if linked is None or linked.state in CLOSED else linked
    appointment: int | None
    if booking.action in ("book", "move"):
        appointment, reason = changes.book_or_move(current)
        status = "booked"
    else:
        appointment, reason = changes.withdraw(current)
        status = "cancelled" if booking.action == "cancel" else "no-show"
    link = Link(link_id, booking.filler_id, patient.id, appointment, status, head.sent_at, now)
    return Outcome(Hl7State.APPLIED, reason, link)


def _link(session: Session, filler_id: str) -> tuple[int | None, datetime | None, Appt | None]:
    """The appointment's link (its id and version) and the engage appointment it points at, in
    one query.

    FOR UPDATE of the link: two connections carrying the same appointment apply one after the
    other (PostgreSQL; SQLite has one writer anyway)."""
    link, booked = _LINK, _APPOINTMENT
    query = (
        select(link.c.id, link.c.version, booked.c.id, booked.c.starts_at, booked.c.ends_at)
        .add_columns(booked.c.state)
        .select_from(link.outerjoin(booked, booked.c.id == link.c.appointment_id))
        .where(link.c.filler_id == filler_id)
        .with_for_update(of=link)
    )
    row = session.connection().execute(query).first()
    if row is None:
        return None, None, None
    link_id, version, *appointment = row
    return link_id, version, None if appointment[0] is None else Appt(*appointment)


def write_link(session: Session, link: Link, journal_id: int) -> None:
    """Record the applied SIU on its appointment's link (inserted on its first message)."""
    values = {"status": link.status, "version": link.version, "message_id": journal_id}
    values |= {"updated_at": link.at}
    if link.appointment_id is not None:
        values["appointment_id"] = link.appointment_id
    if link.link_id is None:
        statement = insert(_LINK).values(filler_id=link.filler_id, patient_id=link.patient_id)
        session.connection().execute(statement.values(**values))
    else:
        update_ = update(_LINK).where(_LINK.c.id == link.link_id).values(**values)
        session.connection().execute(update_)


class _Changes:
    """One booking's changes to the patient's appointments, through their services."""

    def __init__(
        self,
        session: Session,
        schedule: Schedule,
        now: datetime,
        booking: Booking,
        course: tuple[
            setwise.Newcomer, Hl7Infusion
        ],  # the patient, and the rule the booking matched
        set_wise: bool,
    ) -> None:
        self.session, self.schedule, self.now = session, schedule, now
        self.booking, self.course, self.set_wise = booking, course, set_wise
        patient = course[0]
        self.who = setwise.Who(patient.id, patient.timezone, patient.channels)

    def book_or_move(self, current: Appt | None) -> tuple[int, str]:
        booking = self.booking
        assert booking.starts_at is not None  # read_booking requires it for book and move
        if current is None:
            return self._book(booking.starts_at)
        same_end = booking.ends_at is None or booking.ends_at == current.ends_at
        if booking.starts_at == current.starts_at and same_end:
            return current.id, f"appointment {current.id} unchanged"
        if self.set_wise and setwise.move(
            self.session,
            self.schedule,
            self.who,
            current.id,
            booking.starts_at,
            booking.ends_at,
            now=self.now,
            actor=ACTOR,
        ):
            return current.id, f"appointment {current.id} moved"
        moved = move_appointment(
            self.session,
            self.schedule,
            current.id,
            booking.starts_at,
            booking.ends_at,
            now=self.now,
            actor=ACTOR,
        )
        return moved.id, f"appointment {moved.id} moved"

    def withdraw(self, current: Appt | None) -> tuple[int | None, str]:
        no_show = self.booking.action == "no-show"
        if current is None:
            return None, "nothing open to cancel: recorded"
        if no_show and self.schedule.hl7.no_show == "keep":
            return current.id, f"appointment {current.id}: no-show recorded, its messages kept"
        reason = "no-show (EHR)" if no_show else "appointment cancelled in the EHR"
        if self.set_wise and setwise.cancel(
            self.session,
            self.schedule,
            self.who,
            current.id,
            reason=reason,
            now=self.now,
            actor=ACTOR,
        ):
            return current.id, f"appointment {current.id}: {reason}"
        cancel_appointment(
            self.session,
            self.schedule,
            current.id,
            reason=reason,
            now=self.now,
            actor=ACTOR,
        )
        return current.id, f"appointment {current.id}: {reason}"

    def _book(self, starts_at: datetime) -> tuple[int, str]:
        """Book, and on the patient's first such booking enroll in the rule's sequences: one
        `enroll_course` call, so the course has one set of appointments (as staff enrollment does).

        A sequence the patient was ever enrolled in is not restarted (staff may have ended it).
        """
        session, booking, (patient, rule) = self.session, self.booking, self.course
        # Every enrollment the patient ever had, with its events, in one read: which sequences
        # are known, and the open ones a booking re-plans.
        enrollments = setwise.enrollments(session, patient.id, only_open=False)
        known = {enrollment.sequence for enrollment in enrollments}
        missing = [name for name in rule.sequences if name not in known]
        if not missing:
            opened = [e for e in enrollments if e.state in OPEN]
            booked = self.set_wise and setwise.book(
                session,
                self.schedule,
                self.who,
                opened,
                starts_at,
                booking.ends_at,
                location=booking.location_name,
                now=self.now,
                actor=ACTOR,
            )
            if booked:
                return booked, f"appointment {booked} booked"
            appointment = add_appointment(
                session,
                self.schedule,
                patient.id,
                starts_at,
                booking.ends_at,
                location=booking.location_name,
                now=self.now,
                actor=ACTOR,
            )
            return appointment.id, f"appointment {appointment.id} booked"
        fresh = self.set_wise and not any(e.state in OPEN for e in enrollments)
        first = fresh and setwise.enroll_first(
            session,
            self.schedule,
            patient,
            missing,
            starts_at,
            booking.ends_at,
            location=booking.location_name,
            now=self.now,
            actor=ACTOR,
        )
        if first:
            return first, f"appointment {first} booked; enrolled in {', '.join(missing)}"
        course = enroll_course(
            session,
            self.schedule,
            patient.id,
            missing,
            appointments=[Slot(starts_at, booking.ends_at)],
            now=self.now,
            actor=ACTOR,
            location=booking.location_name,
        )
        appointment = course.appointments[0]
        return (
            appointment.id,
            f"appointment {appointment.id} booked; enrolled in {', '.join(missing)}",
        )
