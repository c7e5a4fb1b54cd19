"""Anchor events: from appointments and caller-given events to the rows the planner reads.

A patient's non-cancelled appointments, ranked by start time, give each enrollment one
`infusion.start` and one `infusion.end` event per appointment, keyed `appointment:<id>`, whose
occurrence is that rank (the first infusion is occurrence 1).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from typing import Protocol
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from engage.errors import PlanningError
from engage.planning.localtime import resolve_local
from engage.planning.planner import AnchorEvent
from engage.schedule.models import REPEATING_ANCHORS, Schedule
from engage.store.appointments import Appointment, AppointmentState
from engage.store.enrollments import Enrollment, EnrollmentEvent

DEFAULT_INFUSION_MINUTES = 45
START, END = "infusion.start", "infusion.end"


def infusion_length(schedule: Schedule) -> timedelta:
    """How long an appointment lasts when only its start is known (clinic setting, else 45 min)."""
    minutes = schedule.clinic.settings.get("infusion_minutes", DEFAULT_INFUSION_MINUTES)
    return timedelta(minutes=int(minutes))


def parse_event(text: str, zone: str) -> AnchorEvent:
    """`NAME=ISO` as an AnchorEvent; a naive time is read on the wall clock of `zone`."""
    name, sep, value = text.partition("=")
    if not sep or not name.strip() or not value.strip():
        raise ValueError(f"--event {text!r}: expected NAME=ISO-TIME")
    try:
        moment = datetime.fromisoformat(value.strip())
    except ValueError:
        raise ValueError(
            f"--event {text!r}: {value.strip()!r} is not an ISO time such as 2027-03-10T09:00"
        ) from None
    if moment.tzinfo is None:
        moment = resolve_local(moment, ZoneInfo(zone))
    return AnchorEvent(name.strip(), moment)


def split_events(
    schedule: Schedule, events: Iterable[AnchorEvent], length: timedelta
) -> tuple[list[AnchorEvent], list[tuple[datetime, datetime]]]:
    """Separate one-off events from appointments (infusion starts, paired with ends in order).

    Raises PlanningError for an unknown or repeated event, a naive time, or an end that does not
    follow its start.
    """
    known = set(schedule.anchors)
    single: list[AnchorEvent] = []
    starts: list[datetime] = []
    ends: list[datetime] = []
    for event in events:
        if event.name not in known:
            raise PlanningError(
                f"unknown event {event.name!r}: expected one of {', '.join(sorted(known))}"
            )
        if event.at.tzinfo is None or event.at.utcoffset() is None:
            raise PlanningError(f"event {event.name!r} at {event.at.isoformat()} has no time zone")
        if event.name in REPEATING_ANCHORS:
            (starts if event.name == START else ends).append(event.at)
        elif any(other.name == event.name for other in single):
            raise PlanningError(f"event {event.name!r} given twice")
        else:
            single.append(event)
    return single, _pairs(sorted(starts), sorted(ends), length)


def _pairs(
    starts: list[datetime], ends: list[datetime], length: timedelta
) -> list[tuple[datetime, datetime]]:
    if len(ends) > len(starts):
        raise PlanningError(f"{len(ends)} {END} events but only {len(starts)} {START}")
    pairs = []
    for index, start in enumerate(starts):
        end = ends[index] if index < len(ends) else start + length
        if end <= start:
            raise PlanningError(f"{END} {end.isoformat()} is not after {START} {start.isoformat()}")
        pairs.append((start, end))
    return pairs


def ranked_appointments(session: Session, patient_id: int) -> list[Appointment]:
    """The patient's non-cancelled appointments, first infusion first."""
    return list(
        session.scalars(
            select(Appointment)
            .where(
                Appointment.patient_id == patient_id,
                Appointment.state != AppointmentState.CANCELLED,
            )
            .order_by(Appointment.starts_at, Appointment.id)
        )
    )


class Booked(Protocol):
    """An appointment as its anchor events need it: a stored row, or a plain copy of one."""

    starts_at: datetime
    ends_at: datetime

    @property
    def event_key(self) -> str: ...


def appointment_events(appointments: Sequence[Booked]) -> list[AnchorEvent]:
    """The `infusion.start` and `infusion.end` events of ranked appointments (rank: occurrence)."""
    events = []
    for rank, appointment in enumerate(appointments, start=1):
        key = appointment.event_key
        events.append(AnchorEvent(START, appointment.starts_at, key, rank))
        events.append(AnchorEvent(END, appointment.ends_at, key, rank))
    return events


def sync_appointment_events(enrollment: Enrollment, wanted: list[AnchorEvent]) -> set[str]:
    """Make the enrollment's appointment events equal `wanted`; return the keys that changed.

    An appointment no longer wanted (cancelled) keeps its rows, marked cancelled.
    """
    rows = {(row.name, row.key): row for row in enrollment.events}
    changed: set[str] = set()
    for event in wanted:
        row = rows.get((event.name, event.key))
        if row is None:
            enrollment.events.append(
                EnrollmentEvent(
                    name=event.name, at=event.at, key=event.key, occurrence=event.occurrence
                )
            )
            changed.add(event.key)
        elif (row.at, row.occurrence, row.cancelled) != (event.at, event.occurrence, False):
            row.at, row.occurrence, row.cancelled = event.at, event.occurrence, False
            changed.add(event.key)
    wanted_slots = {(event.name, event.key) for event in wanted}
    for slot, row in rows.items():
        if row.name in REPEATING_ANCHORS and slot not in wanted_slots and not row.cancelled:
            row.cancelled = True
            changed.add(row.key)
    return changed


def set_event(enrollment: Enrollment, name: str, at: datetime) -> bool:
    """Record a one-off event (e.g. course.completed) on the enrollment; True if it changed."""
    for row in enrollment.events:
        if row.name == name and row.key == "":
            if row.at == at and not row.cancelled:
                return False
            row.at, row.cancelled = at, False
            return True
    enrollment.events.append(EnrollmentEvent(name=name, at=at, key="", occurrence=1))
    return True


def anchor_events(enrollment: Enrollment) -> list[AnchorEvent]:
    """The events the planner times this enrollment's steps from."""
    return [
        AnchorEvent(row.name, row.at, row.key, row.occurrence)
        for row in enrollment.events
        if not row.cancelled
    ]
