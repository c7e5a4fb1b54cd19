"""Enrolling a patient in a course (several sequences, one set of appointments) and previews:
of the course before enrolling, of moving or cancelling an appointment before doing it.

Previews run the same service and roll it back (engage.enrollment.dryrun): what they show is
what the action would do. Times without a UTC offset are the patient's local time.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from zoneinfo import ZoneInfo

from fastapi import APIRouter
from fastapi.types import DecoratedCallable
from pydantic import BaseModel, Field
from sqlalchemy.orm import Session

from engage import enrollment as service
from engage.api import errors
from engage.api.appointments import AppointmentMove, AppointmentOut, Cancel, times
from engage.api.enrollments import EnrollmentOut, EventIn, anchor_events, enrollment_out
from engage.api.fields import Id
from engage.api.params import WRITE, Db, Now, Plan, RequestBody, Staff, Templates, creates
from engage.api.patients import load_patient
from engage.api.walltime import WallTime, instant
from engage.enrollment import common
from engage.enrollment.dryrun import MessageChange, preview_cancel, preview_course, preview_move
from engage.planning.planner import AnchorEvent
from engage.timeline import PatientTimeline

router = APIRouter(tags=["course"], responses=errors.responses(400, 401, 403))


class SlotIn(RequestBody):
    starts_at: WallTime
    ends_at: WallTime | None = Field(default=None, description="Default: the clinic's length.")


class CourseCreate(RequestBody):
    sequences: list[str] = Field(min_length=1, max_length=10, examples=[["pre-infusion"]])
    appointments: list[SlotIn] = Field(default=[], max_length=50)
    events: list[EventIn] = Field(default=[], max_length=50, description="enrolled, ...")
    location: str = Field(default="", max_length=200, description="Of appointments it books.")


class CourseOut(BaseModel):
    enrollments: list[EnrollmentOut]
    appointments: list[AppointmentOut]
    booked: list[int] = Field(description="Ids of the appointments this call booked.")


class ChangeOut(BaseModel):
    kind: str = Field(description="moved, cancelled, new or changed")
    message_id: int | None
    sequence: str
    step: str
    channel_before: str | None
    channel_after: str | None
    due_before: datetime | None
    due_after: datetime
    due_before_local: datetime | None
    due_after_local: datetime
    state_before: str | None
    state_after: str
    reason: str


def _slots(body: CourseCreate, zone: str) -> list[service.Slot]:
    return [
        service.Slot(
            instant(s.starts_at, zone, f"appointments.{n}.starts_at"),
            None if s.ends_at is None else instant(s.ends_at, zone, f"appointments.{n}.ends_at"),
        )
        for n, s in enumerate(body.appointments)
    ]


def _course_of(
    session: Session, patient_id: int, body: CourseCreate
) -> tuple[list[service.Slot], list[AnchorEvent]]:
    """The body's appointments and events as instants (naive ones: the patient's local time)."""
    zone = load_patient(session, patient_id).timezone
    return _slots(body, zone), anchor_events(body.events, zone)


@creates(router, "/patients/{patient_id}/course", CourseOut)
def enroll_course(
    patient_id: Id, body: CourseCreate, who: Staff, session: Db, plan: Plan, now: Now
) -> CourseOut:
    """Enroll in every sequence of the course; its appointments are booked once for all."""
    slots, events = _course_of(session, patient_id, body)
    course = service.enroll_course(
        session,
        plan,
        patient_id,
        body.sequences,
        slots,
        events,
        now=now,
        actor=who.actor,
        location=body.location,
    )
    return CourseOut(
        enrollments=[enrollment_out(session, e) for e in course.enrollments],
        appointments=[AppointmentOut.model_validate(a) for a in course.appointments],
        booked=[a.id for a in course.booked],
    )


@router.post(
    "/patients/{patient_id}/course/preview", response_model=PatientTimeline, responses=WRITE
)
def course_preview(
    patient_id: Id,
    body: CourseCreate,
    who: Staff,
    session: Db,
    plan: Plan,
    env: Templates,
    now: Now,
) -> PatientTimeline:
    """The patient's whole timeline as enrolling in this course would make it (nothing stored)."""
    slots, events = _course_of(session, patient_id, body)
    return preview_course(
        session,
        plan,
        env,
        patient_id,
        body.sequences,
        slots,
        events,
        now=now,
        location=body.location,
    )


def _zone_of(session: Session, appointment_id: int) -> str:
    return common.appointment_and_patient(session, appointment_id)[1].timezone


def _changes(changes: list[MessageChange], zone: str) -> list[ChangeOut]:
    tz = ZoneInfo(zone)
    return [
        ChangeOut(
            **vars(c),
            due_before_local=None if c.due_before is None else c.due_before.astimezone(tz),
            due_after_local=c.due_after.astimezone(tz),
        )
        for c in changes
    ]


def _preview_route(change: str) -> Callable[[DecoratedCallable], DecoratedCallable]:
    """The route of the preview of an appointment's `change` (move, cancel), as each answers."""
    path = f"/appointments/{{appointment_id}}/{change}/preview"
    return router.post(path, response_model=list[ChangeOut], responses=WRITE)


def _previewed(
    session: Session, appointment_id: int, preview: Callable[[str], list[MessageChange]]
) -> list[ChangeOut]:
    """What `preview` (given the patient's time zone, for the body's times) would change, with
    the times in the patient's local time too."""
    zone = _zone_of(session, appointment_id)
    return _changes(preview(zone), zone)


@_preview_route("move")
def move_preview(
    appointment_id: Id, body: AppointmentMove, who: Staff, session: Db, plan: Plan, now: Now
) -> list[ChangeOut]:
    """Which messages the move would move (from when to when), cancel or add; nothing stored."""

    def preview(zone: str) -> list[MessageChange]:
        starts_at, ends_at = times(body, zone)
        return preview_move(session, plan, appointment_id, starts_at, ends_at, now=now)

    return _previewed(session, appointment_id, preview)


@_preview_route("cancel")
def cancel_preview(
    appointment_id: Id, body: Cancel, who: Staff, session: Db, plan: Plan, now: Now
) -> list[ChangeOut]:
    """Which messages cancelling would cancel (or add, such as a notice); nothing stored."""
    return _previewed(
        session,
        appointment_id,
        lambda _zone: preview_cancel(session, plan, appointment_id, reason=body.reason, now=now),
    )
