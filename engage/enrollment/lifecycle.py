"""An enrollment's life after it starts: pause, resume, unenroll."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from engage.enrollment.common import get_enrollment, get_patient, transaction
from engage.enrollment.replan import locked, replan
from engage.errors import Conflict
from engage.schedule.models import Schedule
from engage.store.audit import audit
from engage.store.db import transition
from engage.store.enrollments import Enrollment, EnrollmentState
from engage.store.messages import UNSENT, Message, MessageState


@transaction
def unenroll(
    session: Session, enrollment_id: int, *, reason: str, now: datetime, actor: str
) -> int:
    """Cancel the enrollment and every message of it not yet sent; return how many."""
    enrollment = get_enrollment(session, enrollment_id)
    if enrollment.state in (EnrollmentState.CANCELLED, EnrollmentState.COMPLETED):
        raise Conflict(f"enrollment {enrollment_id} is already {enrollment.state}")
    before = enrollment.state
    _set_state(enrollment, EnrollmentState.CANCELLED, reason, now)
    cancelled = 0
    for message in session.scalars(
        locked(
            select(Message).where(Message.enrollment_id == enrollment_id, Message.state.in_(UNSENT))
        )
    ):
        transition(session, message, MessageState.CANCELLED, f"unenrolled: {reason}", actor, at=now)
        cancelled += 1
    _audit_state(session, enrollment, before, actor, now, "enrollment.cancel", cancelled=cancelled)
    return cancelled


@transaction
def pause(session: Session, enrollment_id: int, *, reason: str, now: datetime, actor: str) -> None:
    """Hold the enrollment: its scheduled messages stay, but are not sent until resumed."""
    enrollment = get_enrollment(session, enrollment_id)
    if enrollment.state != EnrollmentState.ACTIVE:
        raise Conflict(f"enrollment {enrollment_id} is {enrollment.state}, not active")
    _set_state(enrollment, EnrollmentState.PAUSED, reason, now)
    _audit_state(session, enrollment, EnrollmentState.ACTIVE, actor, now, "enrollment.pause")


@transaction
def resume(
    session: Session, schedule: Schedule, enrollment_id: int, *, now: datetime, actor: str
) -> None:
    """Resume a paused enrollment, re-planning what is still ahead from `now`."""
    enrollment = get_enrollment(session, enrollment_id)
    if enrollment.state != EnrollmentState.PAUSED:
        raise Conflict(f"enrollment {enrollment_id} is {enrollment.state}, not paused")
    _set_state(enrollment, EnrollmentState.ACTIVE, "", now)
    patient = get_patient(session, enrollment.patient_id)
    result = replan(session, schedule, enrollment, patient, now=now, actor=actor, reason="resumed")
    _audit_state(
        session,
        enrollment,
        EnrollmentState.PAUSED,
        actor,
        now,
        "enrollment.resume",
        moved=result.moved,
        skipped=result.skipped,
    )


def _set_state(enrollment: Enrollment, state: EnrollmentState, reason: str, now: datetime) -> None:
    enrollment.state = state
    enrollment.reason = reason
    enrollment.updated_at = now


def _audit_state(
    session: Session,
    enrollment: Enrollment,
    before: EnrollmentState,
    actor: str,
    now: datetime,
    action: str,
    **extra: object,
) -> None:
    audit(
        session,
        actor=actor,
        action=action,
        entity="enrollment",
        entity_id=enrollment.id,
        before={"state": before},
        after={"state": enrollment.state, "reason": enrollment.reason, **extra},
        at=now,
    )
