"""Previews that tell the truth: run the real service in the caller's session, read, roll back.

A preview computed by a second code path drifts from what the service does; running the service
itself and rolling its transaction back cannot. The caller's session must hold nothing else
uncommitted (the front doors open one session per request).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from sqlalchemy import select
from sqlalchemy.orm import Session

from engage.enrollment.appointments import cancel_appointment_in, move_appointment_in
from engage.enrollment.course import Slot, enroll_course_in
from engage.errors import NotFound
from engage.planning.planner import AnchorEvent
from engage.schedule.models import Schedule
from engage.store.appointments import Appointment
from engage.store.messages import Message
from engage.timeline.service import PatientTimeline, patient_timeline

ChangeKind = Literal["moved", "cancelled", "new", "changed"]


@dataclass(frozen=True)
class MessageChange:
    """One message a change of appointment would touch, from what to what."""

    kind: ChangeKind  # moved (new due time), cancelled, new (planned by the change), changed
    message_id: int | None  # None for a message the change would create
    sequence: str
    step: str
    channel_before: str | None
    channel_after: str | None
    due_before: datetime | None  # UTC
    due_after: datetime  # UTC
    state_before: str | None
    state_after: str
    reason: str


@contextmanager
def rolled_back(session: Session) -> Iterator[Session]:
    """Run a service function's writes in `session`, then undo them whatever happens."""
    try:
        yield session
        session.flush()
    finally:
        session.rollback()


def preview_course(
    session: Session,
    schedule: Schedule,
    env: Any,
    patient_id: int,
    sequences: Sequence[str],
    appointments: Iterable[Slot] = (),
    events: Iterable[AnchorEvent] = (),
    *,
    now: datetime,
    location: str = "",
) -> PatientTimeline:
    """The patient's whole timeline as it would be after `enroll_course` (nothing is stored).

    Errors are the ones enrolling would raise (an overlap, an unknown sequence, ...).
    """
    with rolled_back(session):
        enroll_course_in(
            session,
            schedule,
            patient_id,
            sequences,
            appointments,
            events,
            now=now,
            actor="preview",
            location=location,
        )
        session.flush()
        return patient_timeline(session, schedule, env, patient_id)


def preview_move(
    session: Session,
    schedule: Schedule,
    appointment_id: int,
    starts_at: datetime,
    ends_at: datetime | None = None,
    *,
    now: datetime,
) -> list[MessageChange]:
    """Which messages moving the appointment would move (from when to when), cancel or add."""

    def act() -> None:
        move_appointment_in(
            session, schedule, appointment_id, starts_at, ends_at, now=now, actor="preview"
        )

    return _diff(session, appointment_id, act)


def preview_cancel(
    session: Session,
    schedule: Schedule,
    appointment_id: int,
    *,
    reason: str = "appointment cancelled",
    now: datetime,
) -> list[MessageChange]:
    """Which messages cancelling the appointment would cancel (or add, such as a notice)."""

    def act() -> None:
        cancel_appointment_in(
            session, schedule, appointment_id, reason=reason, now=now, actor="preview"
        )

    return _diff(session, appointment_id, act)


_Row = tuple[str, str, str, datetime, str, str]


def _snapshot(session: Session, patient_id: int) -> dict[int, _Row]:
    rows = session.execute(
        select(
            Message.id,
            Message.sequence,
            Message.step_id,
            Message.channel,
            Message.due_at,
            Message.state,
            Message.reason,
        )
        .where(Message.patient_id == patient_id)
        .execution_options(populate_existing=True)
    )
    return {row[0]: (row[1], row[2], row[3], row[4], str(row[5]), row[6]) for row in rows}


def _diff(session: Session, appointment_id: int, act: Callable[[], None]) -> list[MessageChange]:
    appointment = session.get(Appointment, appointment_id)
    if appointment is None:
        raise NotFound(f"appointment {appointment_id} not found")
    patient_id = appointment.patient_id
    with rolled_back(session):
        before = _snapshot(session, patient_id)
        act()
        session.flush()
        after = _snapshot(session, patient_id)
    changes = [
        change
        for message_id, now_row in after.items()
        if (change := _change(message_id, before.get(message_id), now_row)) is not None
    ]
    return sorted(changes, key=lambda c: (c.due_after, c.step))


def _change(message_id: int, old: _Row | None, new: _Row) -> MessageChange | None:
    sequence, step, channel, due, state, reason = new
    if old is None:
        return MessageChange(
            "new", None, sequence, step, None, channel, None, due, None, state, reason
        )
    if old == new:
        return None
    kind: ChangeKind = "changed"
    if state == "cancelled" and old[4] != "cancelled":
        kind = "cancelled"
    elif old[3] != due:
        kind = "moved"
    return MessageChange(
        kind, message_id, sequence, step, old[2], channel, old[3], due, old[4], state, reason
    )
