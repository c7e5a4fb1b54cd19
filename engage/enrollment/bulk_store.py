"""Storing planned bulk rows set-wise: a few multi-row INSERTs per batch, whatever its size.

The rows are the ones `enroll_course_in` would write one statement at a time for the same
patients (appointments, enrollments, their events, messages with their first events, audit
entries), in the caller's transaction: an error here rolls the whole file back.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from engage.enrollment.bulk_plan import FreshCourse, PlannedEnrollment, placeholder
from engage.enrollment.replan import planned_row
from engage.planning.planner import PlannedMessage
from engage.store.appointments import Appointment, AppointmentState
from engage.store.audit import AuditLog
from engage.store.bulk_insert import insert_returning_ids, insert_rows
from engage.store.enrollments import Enrollment, EnrollmentEvent, EnrollmentState
from engage.store.message_states import create_many
from engage.store.messages import MessageState

PLANNED = "planned"  # the reason a planned message carries, as replan gives it


def store_courses(
    session: Session, courses: Sequence[FreshCourse], *, now: datetime, actor: str
) -> None:
    """Write every course of the batch (nothing is read back but the new ids)."""
    if not courses:
        return
    audits: list[dict[str, Any]] = []
    keys = _book(session, courses, now, actor, audits)
    enrollments = [(course, e) for course in courses for e in course.enrollments]
    ids = insert_returning_ids(
        session,
        Enrollment,
        [
            {
                "patient_id": course.patient_id,
                "sequence": e.sequence,
                "state": EnrollmentState.ACTIVE,
                "reason": "",
                "enrolled_at": now,
                "created_at": now,
                "updated_at": now,
            }
            for course, e in enrollments
        ],
    )
    events: list[dict[str, Any]] = []
    messages: list[dict[str, Any]] = []
    for enrollment_id, (course, planned) in zip(ids, enrollments, strict=True):
        key_of = keys[id(course)]
        events += _event_rows(enrollment_id, planned, key_of)
        rows = [
            _message_row(course.patient_id, enrollment_id, planned, m, key_of)
            for m in planned.messages
        ]
        messages += rows
        audits.append(_enrollment_audit(enrollment_id, course, planned, rows, now, actor))
    insert_rows(session, EnrollmentEvent, events)
    create_many(session, messages, actor, now)
    insert_rows(session, AuditLog, audits)


def _book(
    session: Session,
    courses: Sequence[FreshCourse],
    now: datetime,
    actor: str,
    audits: list[dict[str, Any]],
) -> dict[int, dict[str, str]]:
    """Insert every course's appointments; per course, placeholder key -> real event key."""
    slots = [
        (course, rank, slot) for course in courses for rank, slot in enumerate(course.slots, 1)
    ]
    ids = insert_returning_ids(
        session,
        Appointment,
        [
            {
                "patient_id": course.patient_id,
                "starts_at": start,
                "ends_at": end,
                "location": course.location,
                "state": AppointmentState.SCHEDULED,
                "created_at": now,
                "updated_at": now,
            }
            for course, _rank, (start, end) in slots
        ],
    )
    keys: dict[int, dict[str, str]] = {id(course): {} for course in courses}
    for appointment, (course, rank, (start, end)) in zip(ids, slots, strict=True):
        keys[id(course)][placeholder(rank)] = f"appointment:{appointment}"
        after = {"patient_id": course.patient_id, "starts_at": start, "ends_at": end}
        audits.append(_audit("appointment.create", "appointment", appointment, after, now, actor))
    return keys


def _event_rows(
    enrollment_id: int, planned: PlannedEnrollment, key_of: dict[str, str]
) -> list[dict[str, Any]]:
    return [
        {
            "enrollment_id": enrollment_id,
            "name": e.name,
            "at": e.at,
            "key": key_of.get(e.key, e.key),
            "occurrence": e.occurrence,
            "cancelled": False,
        }
        for e in (*planned.events, *planned.appointment_events)
    ]


def _message_row(
    patient_id: int,
    enrollment_id: int,
    planned: PlannedEnrollment,
    item: PlannedMessage,
    key_of: dict[str, str],
) -> dict[str, Any]:
    key = key_of.get(item.event_key, item.event_key)
    return planned_row(patient_id, enrollment_id, planned.sequence, item, PLANNED, key)


def _enrollment_audit(
    enrollment_id: int,
    course: FreshCourse,
    planned: PlannedEnrollment,
    messages: list[dict[str, Any]],
    now: datetime,
    actor: str,
) -> dict[str, Any]:
    created = sum(1 for m in messages if m["state"] == MessageState.SCHEDULED)
    after = {
        "patient_id": course.patient_id,
        "sequence": planned.sequence,
        "events": sorted(f"{e.name}@{e.at.isoformat()}" for e in planned.events),
        "planned": created,
        "skipped": len(messages) - created,
    }
    return _audit("enrollment.create", "enrollment", enrollment_id, after, now, actor)


def _audit(
    action: str, entity: str, entity_id: int, after: dict[str, Any], now: datetime, actor: str
) -> dict[str, Any]:
    """An audit_log row as `engage.store.audit.audit` writes it (datetimes as ISO text)."""
    plain = {k: v.isoformat() if isinstance(v, datetime) else v for k, v in after.items()}
    return {
        "at": now,
        "actor": actor,
        "action": action,
        "entity": entity,
        "entity_id": str(entity_id),
        "before": None,
        "after": plain,
    }
