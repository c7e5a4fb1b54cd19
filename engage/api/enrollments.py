"""Staff routes for enrollments: enroll with anchor events, pause, resume, unenroll, and mark a
patient's course completed (which starts the booster sequence).

Each call is one transaction of the enrollment service (engage.enrollment): its messages are
planned, moved or cancelled with it, with the reason on every message, and the audit log names
the token that asked.
"""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter
from pydantic import BaseModel, Field
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from engage import enrollment as service
from engage.api import errors
from engage.api.fields import Id, Moment
from engage.api.params import READ, WRITE, Db, Now, Plan, RequestBody, Staff, creates
from engage.api.patients import load_patient, patient_rows
from engage.api.walltime import WallTime, instant
from engage.enrollment import common
from engage.planning.planner import AnchorEvent
from engage.store.enrollments import Enrollment
from engage.store.messages import Message

router = APIRouter(tags=["enrollments"], responses=errors.responses(400, 401, 403))


class EventIn(RequestBody):
    """An anchor event: `enrolled`, `consultation`, `infusion.start` (an appointment), ..."""

    name: str = Field(min_length=1, max_length=32, examples=["infusion.start"])
    at: WallTime


class EnrollmentCreate(RequestBody):
    sequence: str = Field(min_length=1, max_length=64, examples=["pre-infusion"])
    events: list[EventIn] = Field(default=[], max_length=50)
    location: str = Field(default="", max_length=200, description="Of appointments it books.")


class Reason(RequestBody):
    reason: str = Field(min_length=1, max_length=500, examples=["patient asked to stop"])


class Pause(Reason):
    until: WallTime | None = Field(
        default=None,
        description="Resume on its own then (without offset: the patient's local time).",
    )


class CourseCompleted(RequestBody):
    completed_at: Moment


class EventOut(BaseModel):
    name: str
    at: datetime
    key: str
    occurrence: int
    cancelled: bool


class EnrollmentOut(BaseModel):
    id: int
    patient_id: int
    sequence: str
    state: str
    reason: str
    enrolled_at: datetime
    events: list[EventOut]
    messages: dict[str, int] = Field(description="How many of its messages are in each state.")


def enrollment_out(session: Session, enrollment: Enrollment) -> EnrollmentOut:
    counts = session.execute(
        select(Message.state, func.count(Message.id))
        .where(Message.enrollment_id == enrollment.id)
        .group_by(Message.state)
    ).all()
    return EnrollmentOut(
        id=enrollment.id,
        patient_id=enrollment.patient_id,
        sequence=enrollment.sequence,
        state=str(enrollment.state),
        reason=enrollment.reason,
        enrolled_at=enrollment.enrolled_at,
        events=[
            EventOut(
                name=e.name, at=e.at, key=e.key, occurrence=e.occurrence, cancelled=e.cancelled
            )
            for e in enrollment.events
        ],
        messages={str(state): int(count) for state, count in counts},
    )


def anchor_events(given: list[EventIn], zone: str) -> list[AnchorEvent]:
    """Events of a request body; a naive time is the patient's local time in `zone`."""
    return [AnchorEvent(e.name, instant(e.at, zone, f"events.{n}.at")) for n, e in enumerate(given)]


@creates(router, "/patients/{patient_id}/enrollments", EnrollmentOut)
def enroll(
    patient_id: Id, body: EnrollmentCreate, who: Staff, session: Db, plan: Plan, now: Now
) -> EnrollmentOut:
    """Enroll the patient and plan the sequence; `infusion.start` events book appointments."""
    events = anchor_events(body.events, load_patient(session, patient_id).timezone)
    enrollment = service.enroll(
        session,
        plan,
        patient_id,
        body.sequence,
        events,
        now=now,
        actor=who.actor,
        location=body.location,
    )
    return enrollment_out(session, enrollment)


@router.get(
    "/patients/{patient_id}/enrollments", response_model=list[EnrollmentOut], responses=READ
)
def list_enrollments(patient_id: Id, who: Staff, session: Db) -> list[EnrollmentOut]:
    rows = patient_rows(session, patient_id, Enrollment.patient_id, Enrollment.id)
    return [enrollment_out(session, e) for e in rows]


@router.get("/enrollments/{enrollment_id}", response_model=EnrollmentOut, responses=READ)
def get_enrollment(enrollment_id: Id, who: Staff, session: Db) -> EnrollmentOut:
    return enrollment_out(session, common.get_enrollment(session, enrollment_id))


@router.post("/enrollments/{enrollment_id}/pause", response_model=EnrollmentOut, responses=WRITE)
def pause(enrollment_id: Id, body: Pause, who: Staff, session: Db, now: Now) -> EnrollmentOut:
    """Hold its messages (they stay scheduled, unsent) until resumed, or until `until`."""
    enrollment = common.get_enrollment(session, enrollment_id)
    until = pause_end(body, load_patient(session, enrollment.patient_id).timezone)
    service.pause(session, enrollment_id, reason=body.reason, now=now, actor=who.actor, until=until)
    return enrollment_out(session, common.get_enrollment(session, enrollment_id))


def pause_end(body: Pause, zone: str) -> datetime | None:
    return None if body.until is None else instant(body.until, zone, "until")


@router.post("/enrollments/{enrollment_id}/resume", response_model=EnrollmentOut, responses=WRITE)
def resume(enrollment_id: Id, who: Staff, session: Db, plan: Plan, now: Now) -> EnrollmentOut:
    """Resume, re-planning what is still ahead from now."""
    service.resume(session, plan, enrollment_id, now=now, actor=who.actor)
    return enrollment_out(session, common.get_enrollment(session, enrollment_id))


@router.post("/enrollments/{enrollment_id}/unenroll", response_model=EnrollmentOut, responses=WRITE)
def unenroll(enrollment_id: Id, body: Reason, who: Staff, session: Db, now: Now) -> EnrollmentOut:
    """Cancel the enrollment; every message not yet sent is cancelled with the reason."""
    service.unenroll(session, enrollment_id, reason=body.reason, now=now, actor=who.actor)
    return enrollment_out(session, common.get_enrollment(session, enrollment_id))


@router.post(
    "/patients/{patient_id}/course-completed", response_model=EnrollmentOut | None, responses=WRITE
)
def complete_course(
    patient_id: Id, body: CourseCompleted, who: Staff, session: Db, plan: Plan, now: Now
) -> EnrollmentOut | None:
    """Record the end of the course; answers the booster enrollment it starts (if any)."""
    load_patient(session, patient_id)
    booster = service.complete_course(
        session, plan, patient_id, body.completed_at, now=now, actor=who.actor
    )
    return None if booster is None else enrollment_out(session, booster)
