"""One bulk row for a patient new to enrollment, planned in memory: no database, no clock.

A patient with no open enrollment and no booked appointment (nearly every row of a bulk file)
needs only what `plan_fresh` returns: the appointments to book and, per sequence, its one-off
events and planned messages, exactly what `enroll_course_in` would store for that row. Until the
appointments exist their event keys are placeholders (`placeholder(rank)`), swapped for the ids
when they are stored. A row this cannot decide alone (an overlap to name, an unknown sequence)
gives None: the caller takes the one-row path, which words the error as every front door does.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from engage.enrollment.anchors import END, START, infusion_length, split_events
from engage.planning.planner import AnchorEvent, PlannedMessage, Recipient, plan
from engage.schedule.models import Schedule

ENROLLED = "enrolled"
COURSE_COMPLETED = "course.completed"  # as engage.enrollment.service names it


@dataclass(frozen=True)
class Newcomer:
    """What planning needs of the patient (read once per batch)."""

    id: int
    timezone: str
    channels: tuple[str, ...]  # consented, preferred first
    course_completed_at: datetime | None


@dataclass(frozen=True)
class PlannedEnrollment:
    sequence: str
    events: list[AnchorEvent]  # the one-off events (enrolled, ...), as start_enrollment lists them
    appointment_events: list[AnchorEvent]  # keyed by placeholder
    messages: list[PlannedMessage]  # keyed by placeholder


@dataclass(frozen=True)
class FreshCourse:
    patient_id: int
    location: str
    slots: list[tuple[datetime, datetime]]  # to book, in booking order (rank 1 first)
    enrollments: list[PlannedEnrollment]


def placeholder(rank: int) -> str:
    return f"appointment:#{rank}"


def plan_fresh(
    schedule: Schedule,
    patient: Newcomer,
    sequences: Sequence[str],
    events: Iterable[AnchorEvent],
    *,
    now: datetime,
    location: str,
) -> FreshCourse | None:
    """The row's course, or None when only the one-row path can say what happens.

    Raises PlanningError or ValueError as the one-row path would (the caller sends the row there).
    """
    names = [name.strip() for name in sequences if name.strip()]
    if (
        not names
        or len(set(names)) != len(names)
        or any(n not in schedule.sequences for n in names)
    ):
        return None
    single, pairs = split_events(schedule, events, infusion_length(schedule))
    slots = _book(pairs)
    if slots is None:
        return None
    one_offs = _one_offs(single, patient, now)
    anchors = [
        AnchorEvent(name, at, placeholder(rank), rank)
        for rank, (start, end) in enumerate(slots, start=1)
        for name, at in ((START, start), (END, end))
    ]
    recipient = Recipient(patient.timezone, patient.channels)
    quiet = schedule.clinic.quiet_hours
    planned = [
        PlannedEnrollment(
            name,
            one_offs,
            anchors,
            plan(schedule.sequence(name), recipient, [*one_offs, *anchors], quiet, now),
        )
        for name in names
    ]
    return FreshCourse(patient.id, location, slots, planned)


def _book(pairs: list[tuple[datetime, datetime]]) -> list[tuple[datetime, datetime]] | None:
    """`book_course` for a patient with no appointments: a start given twice is one appointment;
    any other overlap is refused (None: the one-row path names the appointment it overlaps)."""
    booked: list[tuple[datetime, datetime]] = []
    for start, end in sorted(set(pairs)):
        if booked and booked[-1][0] == start:
            continue
        if any(b_start < end and start < b_end for b_start, b_end in booked):
            return None
        booked.append((start, end))
    return booked


def _one_offs(single: list[AnchorEvent], patient: Newcomer, now: datetime) -> list[AnchorEvent]:
    names = {event.name for event in single}
    events = list(single)
    if ENROLLED not in names:
        events = [AnchorEvent(ENROLLED, now), *events]
    if COURSE_COMPLETED not in names and patient.course_completed_at is not None:
        events = [*events, AnchorEvent(COURSE_COMPLETED, patient.course_completed_at)]
    return events
