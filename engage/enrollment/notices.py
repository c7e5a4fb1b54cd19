"""Telling the patient that an appointment moved or was cancelled.

A sequence opts in with steps anchored to `appointment.moved` / `appointment.cancelled`
(schedules.yaml). Each change is one event, keyed `appointment:<id>:<change>:<n>`, so every move
gets its own notice; the patient gets one notice per change even when several of their
sequences have the step (the first open enrollment that has it sends it). A notice still
waiting when the appointment changes again is withdrawn: the newer one says what is true.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime

from sqlalchemy import and_, select
from sqlalchemy.orm import Session

from engage.enrollment.common import get_patient, get_sequence, open_enrollments
from engage.enrollment.replan import AlsoLock, Change, locked, replan
from engage.schedule.models import NOTICE_ANCHORS, Schedule
from engage.store.appointments import Appointment
from engage.store.enrollments import Enrollment, EnrollmentEvent
from engage.store.message_states import transition
from engage.store.messages import UNSENT, Message, MessageState

MOVED, CANCELLED = "appointment.moved", "appointment.cancelled"
SUPERSEDED = "superseded: the appointment changed again"


def notify_change(
    session: Session,
    schedule: Schedule,
    appointment: Appointment,
    anchor: str,
    *,
    now: datetime,
    actor: str,
    among: Sequence[Enrollment] | None = None,
    locked_by_enrollment: Mapping[int, Sequence[Message]] | None = None,
    earlier: Sequence[Message] | None = None,
) -> str | None:
    """Plan the notice of this change (`anchor` is MOVED or CANCELLED); its event key, if any.

    `among` is the patient's open enrollments when the caller has them (read otherwise);
    `locked_by_enrollment` the messages the caller locked in this transaction, by enrollment id
    (the notice's enrollment's are not read again when among them); `earlier` the earlier
    notices of this appointment when the caller locked them already (`earlier_notices`)."""
    if among is None:
        among = open_enrollments(session, appointment.patient_id)
    enrollment = next(
        (e for e in among if anchor in get_sequence(schedule, e.sequence).anchors), None
    )
    if enrollment is None:
        return None
    _withdraw_earlier(session, appointment, now, actor, earlier)
    prefix = f"{appointment.event_key}:{anchor.split('.')[1]}:"
    count = sum(1 for e in enrollment.events if e.key.startswith(prefix))
    key = f"{prefix}{count + 1}"
    enrollment.events.append(EnrollmentEvent(name=anchor, at=now, key=key, occurrence=1))
    replan(
        session,
        schedule,
        enrollment,
        get_patient(session, appointment.patient_id),
        Change(now, actor, anchor.replace(".", " ")),
        only=lambda _anchor, event_key: event_key == key,
        stored=(locked_by_enrollment or {}).get(enrollment.id),
    )
    return key


def earlier_notices(appointment: Appointment) -> AlsoLock:
    """The appointment's notices not yet sent (which its next notice withdraws), in SQL and in
    Python: a caller locking messages anyway locks these in the same read."""
    prefix = f"{appointment.event_key}:"

    def test(message: Message) -> bool:
        return (
            message.appointment_id == appointment.id
            and message.state in UNSENT
            and message.event_key.startswith(prefix)
        )

    where = and_(
        Message.appointment_id == appointment.id,
        Message.state.in_(UNSENT),
        Message.event_key.like(f"{prefix}%"),
    )
    return AlsoLock(where, test)


def _withdraw_earlier(
    session: Session,
    appointment: Appointment,
    now: datetime,
    actor: str,
    earlier: Sequence[Message] | None = None,
) -> None:
    notices = earlier
    if notices is None:
        notices = list(
            session.scalars(locked(select(Message).where(earlier_notices(appointment).where)))
        )
    for message in notices:
        if message.state not in UNSENT:  # withdrawn since it was locked
            continue
        transition(session, message, MessageState.CANCELLED, SUPERSEDED, actor, at=now)


__all__ = ["CANCELLED", "MOVED", "NOTICE_ANCHORS", "notify_change"]
