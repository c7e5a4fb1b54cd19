"""Enrolling a patient in a course: several sequences planned from one set of appointments.

A clinic's course is, say, pre-infusion + post-infusion around the same three infusions. The
appointments belong to the patient, not to a sequence: they are booked once (see `booking`) and
every open enrollment of the patient plans from them, so the second sequence of a course, or a
sequence added later, books nothing twice.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from engage.enrollment.anchors import infusion_length, ranked_appointments, split_events
from engage.enrollment.booking import book_course
from engage.enrollment.common import get_patient, get_sequence, open_enrollments, transaction
from engage.enrollment.replan import Change
from engage.enrollment.service import follow_appointments, start_enrollments
from engage.errors import Conflict, PlanningError
from engage.planning.planner import AnchorEvent
from engage.schedule.models import Schedule
from engage.store.appointments import Appointment
from engage.store.enrollments import Enrollment


@dataclass(frozen=True)
class Slot:
    """An appointment to book: its start and, if not the clinic's usual length, its end."""

    starts_at: datetime
    ends_at: datetime | None = None


@dataclass(frozen=True)
class Course:
    """What enrolling in a course did: one enrollment per sequence, the course's appointments."""

    enrollments: list[Enrollment]
    appointments: list[Appointment]  # the ones asked for, booked now or already there
    booked: list[Appointment]  # of those, the ones this call booked


def enroll_course_in(
    session: Session,
    schedule: Schedule,
    patient_id: int,
    sequences: Sequence[str],
    appointments: Iterable[Slot] = (),
    events: Iterable[AnchorEvent] = (),
    *,
    now: datetime,
    actor: str,
    location: str = "",
) -> Course:
    """Enroll a patient in every sequence of a course.

    `appointments` (and any `infusion.start` / `infusion.end` in `events`) are the course's
    infusions: one the patient already has at that start is reused, an overlapping one is refused
    (Conflict naming the other). Other `events` (`enrolled` defaults to `now`, `consultation`, ...)
    anchor every sequence. Raises NotFound (patient), PlanningError (sequence, events) or Conflict
    (already enrolled in one of them, overlap). `enroll_course` is this in its own transaction
    (nothing is stored on error); here it runs in the caller's (a preview rolls it back).
    """
    patient = get_patient(session, patient_id)
    names = _checked_sequences(schedule, sequences)
    length = infusion_length(schedule)
    single, pairs = split_events(schedule, events, length)
    slots = [*pairs, *(_pair(slot, length) for slot in appointments)]
    others = open_enrollments(session, patient_id)
    for other in others:
        if other.sequence in names:
            raise Conflict(
                f"patient {patient_id} is already enrolled in {other.sequence!r} "
                f"(enrollment {other.id}, {other.state})"
            )
    course, booked = book_course(session, patient, slots, location, now=now, actor=actor)
    ranked = ranked_appointments(session, patient_id)
    enrollments = start_enrollments(
        session, schedule, patient, names, list(single), now=now, actor=actor, appointments=ranked
    )
    if booked and others:
        added = Change(now, actor, "appointment added")
        follow_appointments(session, schedule, patient, others, added)
    return Course(enrollments, course, booked)


enroll_course = transaction(enroll_course_in)


@transaction
def enroll(
    session: Session,
    schedule: Schedule,
    patient_id: int,
    sequence_name: str,
    events: Iterable[AnchorEvent] = (),
    *,
    now: datetime,
    actor: str,
    location: str = "",
) -> Enrollment:
    """Enroll a patient in one sequence: a course of one (its infusions are booked once)."""
    course = enroll_course_in(
        session,
        schedule,
        patient_id,
        [sequence_name],
        events=events,
        now=now,
        actor=actor,
        location=location,
    )
    return course.enrollments[0]


def _checked_sequences(schedule: Schedule, sequences: Sequence[str]) -> list[str]:
    names = [name.strip() for name in sequences if name.strip()]
    if not names:
        raise PlanningError("a course needs at least one sequence")
    for name in names:
        get_sequence(schedule, name)
    if len(set(names)) != len(names):
        raise PlanningError(f"a sequence is listed twice in {', '.join(names)}")
    return names


def _pair(slot: Slot, length: timedelta) -> tuple[datetime, datetime]:
    for moment in (slot.starts_at, slot.ends_at):
        if moment is not None and (moment.tzinfo is None or moment.utcoffset() is None):
            raise PlanningError(f"appointment time {moment.isoformat()} has no time zone")
    ends_at = slot.ends_at or slot.starts_at + length
    if ends_at <= slot.starts_at:
        raise PlanningError(
            f"appointment end {ends_at.isoformat()} is not after its start "
            f"{slot.starts_at.isoformat()}"
        )
    return slot.starts_at, ends_at
