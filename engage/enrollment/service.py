"""Starting an enrollment and keeping its appointment events current; course completion (which
starts the booster sequence). Enrolling itself is `engage.enrollment.course`."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from engage.enrollment.anchors import (
    appointment_events,
    ranked_appointments,
    set_event,
    sync_appointment_events,
)
from engage.enrollment.common import (
    get_patient,
    open_enrollments,
    transaction,
)
from engage.enrollment.replan import replan
from engage.planning.planner import AnchorEvent
from engage.schedule.models import Schedule
from engage.store.audit import audit
from engage.store.enrollments import Enrollment, EnrollmentEvent, EnrollmentState
from engage.store.messages import PENDING, MessageState
from engage.store.patients import Patient

BOOSTER = "booster"
COURSE_COMPLETED = "course.completed"


def start_enrollment(
    session: Session,
    schedule: Schedule,
    patient: Patient,
    sequence_name: str,
    events: list[AnchorEvent],
    *,
    now: datetime,
    actor: str,
) -> Enrollment:
    """Create the enrollment, its events and its messages (inside the caller's transaction)."""
    names = {event.name for event in events}
    if "enrolled" not in names:
        events = [AnchorEvent("enrolled", now), *events]
    if COURSE_COMPLETED not in names and patient.course_completed_at is not None:
        events = [*events, AnchorEvent(COURSE_COMPLETED, patient.course_completed_at)]
    enrollment = Enrollment(
        patient_id=patient.id,
        sequence=sequence_name,
        state=EnrollmentState.ACTIVE,
        reason="",
        enrolled_at=now,
        created_at=now,
        updated_at=now,
        events=[
            EnrollmentEvent(name=e.name, at=e.at, key=e.key, occurrence=e.occurrence)
            for e in events
        ],
    )
    session.add(enrollment)
    sync_appointment_events(
        enrollment, appointment_events(ranked_appointments(session, patient.id))
    )
    session.flush()
    result = replan(session, schedule, enrollment, patient, now=now, actor=actor, reason="planned")
    audit(
        session,
        actor=actor,
        action="enrollment.create",
        entity="enrollment",
        entity_id=enrollment.id,
        after={
            "patient_id": patient.id,
            "sequence": sequence_name,
            "events": sorted(f"{e.name}@{e.at.isoformat()}" for e in events),
            "planned": result.created,
            "skipped": result.skipped,
        },
        at=now,
    )
    return enrollment


def refresh_appointments(
    session: Session,
    schedule: Schedule,
    enrollment: Enrollment,
    patient: Patient,
    now: datetime,
    actor: str,
    reason: str,
    *,
    withdraw: frozenset[MessageState] = PENDING,
) -> set[str]:
    """Bring the enrollment's appointment events up to date and re-plan the ones that changed."""
    changed = sync_appointment_events(
        enrollment, appointment_events(ranked_appointments(session, patient.id))
    )
    if changed:
        replan(
            session,
            schedule,
            enrollment,
            patient,
            now=now,
            actor=actor,
            reason=reason,
            only=lambda _anchor, key: key in changed,
            withdraw=withdraw,
        )
    return changed


@transaction
def complete_course(
    session: Session,
    schedule: Schedule,
    patient_id: int,
    at: datetime,
    *,
    now: datetime,
    actor: str,
    booster: str = BOOSTER,
) -> Enrollment | None:
    """Record that the patient's course ended at `at`, and plan the booster nudges from it.

    Every open enrollment gets the `course.completed` event; the patient is enrolled in
    `booster` unless already (a schedule without that sequence just records the date).
    Returns the booster enrollment, if any.
    """
    patient = get_patient(session, patient_id)
    before = patient.course_completed_at
    patient.course_completed_at = at
    patient.updated_at = now
    booster_enrollment = None
    for enrollment in open_enrollments(session, patient_id):
        if enrollment.sequence == booster:
            booster_enrollment = enrollment
        if set_event(enrollment, COURSE_COMPLETED, at):
            session.flush()
            replan(
                session,
                schedule,
                enrollment,
                patient,
                now=now,
                actor=actor,
                reason="course completed",
                only=lambda anchor, _key: anchor == COURSE_COMPLETED,
            )
    if booster_enrollment is None and booster in schedule.sequences:
        booster_enrollment = start_enrollment(
            session,
            schedule,
            patient,
            booster,
            [AnchorEvent(COURSE_COMPLETED, at)],
            now=now,
            actor=actor,
        )
    audit(
        session,
        actor=actor,
        action="patient.course-completed",
        entity="patient",
        entity_id=patient_id,
        before={"course_completed_at": before},
        after={"course_completed_at": at},
        at=now,
    )
    return booster_enrollment
