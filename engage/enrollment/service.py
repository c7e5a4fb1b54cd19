"""Starting an enrollment and keeping its appointment events current; course completion (which
starts the booster sequence). Enrolling itself is `engage.enrollment.course`."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
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
    get_sequence,
    open_enrollments,
    transaction,
)
from engage.enrollment.replan import (
    AlsoLock,
    Change,
    Selector,
    locked_messages,
    locked_messages_and,
    replan,
)
from engage.planning.planner import AnchorEvent
from engage.schedule.models import REPEATING_ANCHORS, Schedule
from engage.store.appointments import Appointment
from engage.store.audit import audit
from engage.store.enrollments import Enrollment, EnrollmentEvent, EnrollmentState
from engage.store.messages import Message
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
    appointments: list[Appointment] | None = None,
) -> Enrollment:
    """Create the enrollment, its events and its messages (inside the caller's transaction).

    `appointments` is the patient's `ranked_appointments` when the caller read them already."""
    return start_enrollments(
        session,
        schedule,
        patient,
        [sequence_name],
        events,
        now=now,
        actor=actor,
        appointments=appointments,
    )[0]


def start_enrollments(
    session: Session,
    schedule: Schedule,
    patient: Patient,
    sequence_names: Sequence[str],
    events: list[AnchorEvent],
    *,
    now: datetime,
    actor: str,
    appointments: list[Appointment] | None = None,
) -> list[Enrollment]:
    """`start_enrollment` for each of `sequence_names` (a course), from the same events and
    appointments: the enrollments and their events are inserted in one flush, then each is
    planned, so their messages, events and audit rows go out together (one INSERT per table,
    not one per table and enrollment)."""
    names = {event.name for event in events}
    if "enrolled" not in names:
        events = [AnchorEvent("enrolled", now), *events]
    if COURSE_COMPLETED not in names and patient.course_completed_at is not None:
        events = [*events, AnchorEvent(COURSE_COMPLETED, patient.course_completed_at)]
    if appointments is None:
        appointments = ranked_appointments(session, patient.id)
    wanted = appointment_events(appointments)
    enrollments = []
    for sequence_name in sequence_names:
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
        sync_appointment_events(enrollment, wanted)
        enrollments.append(enrollment)
    session.flush()  # their ids, which their messages and audit rows name
    for enrollment in enrollments:
        planned = Change(now, actor, "planned")
        # A new enrollment has no messages yet.
        result = replan(session, schedule, enrollment, patient, planned, stored=())
        audit(
            session,
            actor=actor,
            action="enrollment.create",
            entity="enrollment",
            entity_id=enrollment.id,
            after={
                "patient_id": patient.id,
                "sequence": enrollment.sequence,
                "events": sorted(f"{e.name}@{e.at.isoformat()}" for e in events),
                "planned": result.created,
                "skipped": result.skipped,
            },
            at=now,
        )
    return enrollments


@dataclass(frozen=True)
class Followed:
    """What `follow_appointments` did: the changed event keys, and the messages of those keys it
    locked, both by enrollment id. The messages are the session's current objects: a later
    re-plan of those keys (or of a new key, which has no messages yet) in the same transaction
    can use them instead of locking and reading them again."""

    changed: dict[int, set[str]]
    locked: dict[int, list[Message]]
    also: list[Message] = field(default_factory=list)  # what `also` asked to lock


def follow_appointments(
    session: Session,
    schedule: Schedule,
    patient: Patient,
    enrollments: Sequence[Enrollment],
    change: Change,
    *,
    appointments: list[Appointment] | None = None,
    also: AlsoLock | None = None,
) -> Followed:
    """Bring the enrollments' appointment events up to date and re-plan the ones that changed.

    One read of the patient's appointments and one locking read of the messages to re-plan,
    whatever the number of enrollments. A sequence with no step anchored to an appointment
    (education) keeps its events current but has nothing to re-plan, unless it still holds a
    message keyed to a changed appointment (a step removed from schedules.yaml): that one is
    withdrawn as before. `appointments` is the patient's `ranked_appointments` when the caller
    holds them, current (read otherwise); `also` selects more messages to lock in the same read
    (a change's earlier notices, which a notice withdraws).
    """
    if appointments is None:
        appointments = ranked_appointments(session, patient.id)
    wanted = appointment_events(appointments)
    changed = {e.id: keys for e in enrollments if (keys := sync_appointment_events(e, wanted))}
    touched = [e for e in enrollments if e.id in changed]
    # Only the changed appointments' messages: the re-plan below touches no others, so neither
    # loading nor locking the rest of the enrollments' history.
    keys = set().union(*changed.values()) if changed else set()
    extra: list[Message] = []
    if also is None:
        stored = locked_messages(session, [e.id for e in touched], keys)
    else:
        stored, extra = locked_messages_and(session, [e.id for e in touched], keys, also)
    for enrollment in touched:
        keys, mine = changed[enrollment.id], stored.get(enrollment.id, [])
        if not _plans_from_appointments(schedule, enrollment) and not any(
            m.event_key in keys for m in mine
        ):
            continue
        replan(session, schedule, enrollment, patient, change, only=_keyed(keys), stored=mine)
    return Followed(changed, stored, extra)


def _plans_from_appointments(schedule: Schedule, enrollment: Enrollment) -> bool:
    return not get_sequence(schedule, enrollment.sequence).anchors.isdisjoint(REPEATING_ANCHORS)


def _keyed(keys: set[str]) -> Selector:
    return lambda _anchor, key: key in keys


def _course_completed(anchor: str, _key: str) -> bool:
    return anchor == COURSE_COMPLETED


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
    completed = Change(now, actor, "course completed")
    for enrollment in open_enrollments(session, patient_id):
        if enrollment.sequence == booster:
            booster_enrollment = enrollment
        if set_event(enrollment, COURSE_COMPLETED, at):
            session.flush()
            replan(session, schedule, enrollment, patient, completed, only=_course_completed)
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
