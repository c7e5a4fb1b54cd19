"""An enrollment's life after it starts: pause (optionally until a date), resume, unenroll; for
one enrollment or for all of a patient's at once; and resuming pauses whose date has come."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from engage.enrollment.common import OPEN, get_enrollment, get_patient, transaction
from engage.enrollment.replan import Change, locked, replan
from engage.errors import Conflict, InvalidInput
from engage.schedule.models import Schedule
from engage.store.audit import audit_change
from engage.store.enrollments import Enrollment, EnrollmentState
from engage.store.message_states import transition
from engage.store.messages import UNSENT, Message, MessageState


@transaction
def unenroll(
    session: Session, enrollment_id: int, *, reason: str, now: datetime, actor: str
) -> int:
    """Cancel the enrollment and every message of it not yet sent; return how many."""
    return _unenroll(session, get_enrollment(session, enrollment_id), reason, now, actor)


def _unenroll(
    session: Session, enrollment: Enrollment, reason: str, now: datetime, actor: str
) -> int:
    enrollment_id = enrollment.id
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
def pause(
    session: Session,
    enrollment_id: int,
    *,
    reason: str,
    now: datetime,
    actor: str,
    until: datetime | None = None,
) -> None:
    """Hold the enrollment: its scheduled messages stay, but are not sent until resumed (by
    staff, or on its own at `until`, if given: it must be in the future)."""
    _pause(session, get_enrollment(session, enrollment_id), reason, now, actor, until)


def _pause(
    session: Session,
    enrollment: Enrollment,
    reason: str,
    now: datetime,
    actor: str,
    until: datetime | None,
) -> None:
    if enrollment.state != EnrollmentState.ACTIVE:
        raise Conflict(f"enrollment {enrollment.id} is {enrollment.state}, not active")
    if until is not None and until <= now:
        raise InvalidInput("until", f"{until.isoformat()} is not in the future")
    _set_state(enrollment, EnrollmentState.PAUSED, reason, now)
    enrollment.paused_until = until
    _audit_state(
        session, enrollment, EnrollmentState.ACTIVE, actor, now, "enrollment.pause", until=until
    )


@transaction
def resume(
    session: Session, schedule: Schedule, enrollment_id: int, *, now: datetime, actor: str
) -> None:
    """Resume a paused enrollment, re-planning what is still ahead from `now`."""
    _resume(session, schedule, get_enrollment(session, enrollment_id), now, actor)


def _resume(
    session: Session, schedule: Schedule, enrollment: Enrollment, now: datetime, actor: str
) -> None:
    if enrollment.state != EnrollmentState.PAUSED:
        raise Conflict(f"enrollment {enrollment.id} is {enrollment.state}, not paused")
    _set_state(enrollment, EnrollmentState.ACTIVE, "", now)
    enrollment.paused_until = None
    patient = get_patient(session, enrollment.patient_id)
    result = replan(session, schedule, enrollment, patient, Change(now, actor, "resumed"))
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
    audit_change(
        session,
        enrollment,
        action,
        actor=actor,
        before={"state": before},
        after={"state": enrollment.state, "reason": enrollment.reason, **extra},
        at=now,
    )


# A patient's enrollments at once: what staff mean by "pause this patient" or "stop everything".


@transaction
def pause_patient(
    session: Session,
    patient_id: int,
    *,
    reason: str,
    now: datetime,
    actor: str,
    until: datetime | None = None,
) -> list[int]:
    """Pause every active enrollment of the patient; the ids paused (Conflict if none)."""
    chosen = _of_patient(session, patient_id, (EnrollmentState.ACTIVE,), "active")
    for enrollment in chosen:
        _pause(session, enrollment, reason, now, actor, until)
    return [e.id for e in chosen]


@transaction
def resume_patient(
    session: Session, schedule: Schedule, patient_id: int, *, now: datetime, actor: str
) -> list[int]:
    """Resume every paused enrollment of the patient; the ids resumed (Conflict if none)."""
    chosen = _of_patient(session, patient_id, (EnrollmentState.PAUSED,), "paused")
    for enrollment in chosen:
        _resume(session, schedule, enrollment, now, actor)
    return [e.id for e in chosen]


@transaction
def unenroll_patient(
    session: Session, patient_id: int, *, reason: str, now: datetime, actor: str
) -> dict[int, int]:
    """Unenroll the patient from every open enrollment: {enrollment id: messages cancelled}."""
    chosen = _of_patient(session, patient_id, OPEN, "open")
    return {e.id: _unenroll(session, e, reason, now, actor) for e in chosen}


@transaction
def resume_due(session: Session, schedule: Schedule, *, now: datetime, limit: int = 100) -> int:
    """Resume pauses whose `until` has come (the dispatcher asks every minute); how many."""
    due = list(
        session.scalars(
            select(Enrollment)
            .where(Enrollment.state == EnrollmentState.PAUSED, Enrollment.paused_until <= now)
            .order_by(Enrollment.paused_until, Enrollment.id)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
    )
    for enrollment in due:
        _resume(session, schedule, enrollment, now, AUTO_RESUME)
    return len(due)


AUTO_RESUME = "engage:pause-ended"


def _of_patient(
    session: Session, patient_id: int, states: tuple[EnrollmentState, ...], word: str
) -> list[Enrollment]:
    get_patient(session, patient_id)
    chosen = list(
        session.scalars(
            select(Enrollment)
            .where(Enrollment.patient_id == patient_id, Enrollment.state.in_(states))
            .order_by(Enrollment.id)
        )
    )
    if not chosen:
        raise Conflict(f"patient {patient_id} has no {word} enrollment")
    return chosen
