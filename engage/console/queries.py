"""The console's reads: each one indexed and bounded (a page never loads a whole table).

Writes go through the services; these only select what a page shows.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from engage.ops import worklist
from engage.store.appointments import Appointment, AppointmentState
from engage.store.audit import AuditLog
from engage.store.hl7 import Hl7Message, Hl7State
from engage.store.inbound import InboundMessage
from engage.store.messages import Message, MessageState
from engage.store.patients import Patient

PER_PAGE = 25
NEEDS_A_PERSON = (MessageState.FAILED, MessageState.UNDELIVERED)


@dataclass(frozen=True)
class Page:
    """One page of a list: its rows and whether another page follows."""

    rows: list[Any]
    page: int
    has_next: bool


def paged(session: Session, query: Any, page: int, per_page: int = PER_PAGE) -> Page:
    page = max(1, page)
    rows = list(session.execute(query.limit(per_page + 1).offset((page - 1) * per_page)))
    return Page(rows[:per_page], page, len(rows) > per_page)


def flagged(session: Session, limit: int = 50) -> list[Any]:
    """Critical messages that reached nobody: staff call the patient."""
    query = (
        select(Message, Patient)
        .join(Patient, Patient.id == Message.patient_id)
        .where(Message.state == MessageState.FLAGGED)
        .order_by(Message.due_at)
        .limit(limit)
    )
    return list(session.execute(query))


def resolved_since(session: Session, since: datetime, limit: int = 20) -> list[Any]:
    """Flags staff resolved since `since`, newest first, each with its message and patient."""
    notes = worklist.resolutions(session, since=since, limit=limit)
    found = _messages_with_patients(session, [n.message_id for n in notes])
    return [(note, *found[note.message_id]) for note in notes if note.message_id in found]


def _messages_with_patients(session: Session, ids: list[int]) -> dict[int, tuple[Any, Any]]:
    if not ids:
        return {}
    query = (
        select(Message, Patient)
        .join(Patient, Patient.id == Message.patient_id)
        .where(Message.id.in_(ids))
    )
    return {m.id: (m, p) for m, p in session.execute(query)}


def failures(session: Session, since: datetime, limit: int = 50) -> list[Any]:
    """Critical messages that failed recently (the rest is for operators)."""
    query = (
        select(Message, Patient)
        .join(Patient, Patient.id == Message.patient_id)
        .where(
            Message.state.in_(NEEDS_A_PERSON),
            Message.critical,  # as the partial index says it (not "IS true"), so it is used
            Message.due_at >= since,
        )
        .order_by(Message.due_at.desc())
        .limit(limit)
    )
    return list(session.execute(query))


def appointments_between(session: Session, start: datetime, end: datetime) -> list[Any]:
    query = (
        select(Appointment, Patient)
        .join(Patient, Patient.id == Appointment.patient_id)
        .where(
            Appointment.starts_at >= start,
            Appointment.starts_at < end,
            Appointment.state != AppointmentState.CANCELLED,
        )
        .order_by(Appointment.starts_at)
        .limit(200)
    )
    return list(session.execute(query))


def clinic_days(now: datetime, zone: str) -> tuple[datetime, datetime, datetime]:
    """Midnight today, tomorrow and the day after, in the clinic's zone."""
    tz = ZoneInfo(zone)
    today = now.astimezone(tz).replace(hour=0, minute=0, second=0, microsecond=0)
    tomorrow = (today + timedelta(days=1)).replace(tzinfo=None).replace(tzinfo=tz)
    after = (today + timedelta(days=2)).replace(tzinfo=None).replace(tzinfo=tz)
    return today, tomorrow, after


def replies(
    session: Session, page: int, *, keyword: str | None = "other", handled: bool | None = False
) -> Page:
    """Texts patients sent, newest first (by default the ones no keyword handled and no one has
    marked handled: what a person must still read; the partial index serves exactly that)."""
    query = (
        select(InboundMessage, Patient)
        .outerjoin(Patient, Patient.id == InboundMessage.patient_id)
        .order_by(InboundMessage.id.desc())
    )
    if keyword:
        query = query.where(InboundMessage.keyword == keyword)
    if handled is False:
        query = query.where(InboundMessage.handled_at.is_(None))
    elif handled is True:
        query = query.where(InboundMessage.handled_at.is_not(None))
    return paged(session, query, page)


def timeline(session: Session, patient_id: int, page: int, per_page: int = 50) -> Page:
    query = (
        select(Message).where(Message.patient_id == patient_id).order_by(Message.due_at, Message.id)
    )
    return paged(session, query, page, per_page)


def patient_appointments(session: Session, patient_id: int) -> list[Appointment]:
    query = (
        select(Appointment)
        .where(Appointment.patient_id == patient_id)
        .order_by(Appointment.starts_at)
        .limit(100)
    )
    return list(session.scalars(query))


def audit_rows(
    session: Session, page: int, *, actor: str = "", action: str = "", entity: str = ""
) -> Page:
    query = select(AuditLog).order_by(AuditLog.id.desc())
    if actor:
        query = query.where(AuditLog.actor == actor)
    if action:
        query = query.where(AuditLog.action.like(f"{action}%"))
    if entity:
        query = query.where(AuditLog.entity == entity)
    return paged(session, query, page)


def audit_of(session: Session, entity: str, entity_id: int, limit: int = 50) -> list[AuditLog]:
    query = (
        select(AuditLog)
        .where(AuditLog.entity == entity, AuditLog.entity_id == str(entity_id))
        .order_by(AuditLog.id.desc())
        .limit(limit)
    )
    return list(session.scalars(query))


def count_state(session: Session, state: MessageState) -> int:
    return int(session.scalar(select(func.count(Message.id)).where(Message.state == state)) or 0)


@dataclass(frozen=True)
class Feed:
    """The HL7 feed as staff need it: its newest message, and how many dead letters wait."""

    last_received_at: datetime | None
    dead_letters: int


def hl7_feed(session: Session) -> Feed:
    """Read from the journal (hl7_message) as engage.hl7.journal does; the console may not
    import engage.hl7 (front doors are independent), so it reads the table."""
    newest = session.scalar(select(func.max(Hl7Message.received_at)))
    dead = session.scalar(
        select(func.count(Hl7Message.id)).where(Hl7Message.state == Hl7State.FAILED)
    )
    return Feed(newest, int(dead or 0))


def hl7_dead_letters(session: Session, page: int) -> Page:
    """Messages answered AE and not re-applied, oldest first (the order to fix them in). The
    columns name fields and reasons, never the message's content (PHI)."""
    query = (
        select(
            Hl7Message.id,
            Hl7Message.message_type,
            Hl7Message.control_id,
            Hl7Message.sender,
            Hl7Message.received_at,
            Hl7Message.error_field,
            Hl7Message.reason,
            Hl7Message.attempts,
        )
        .where(Hl7Message.state == Hl7State.FAILED)
        .order_by(Hl7Message.id)
    )
    return paged(session, query, page)
