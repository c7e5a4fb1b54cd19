"""Staff's worklist: safety messages that reached nobody, replies to read, and recording that
staff handled one.

A flagged message is a critical message with no open channel: a person must call the patient.
Staff see who (name, phone, email) and why; once they have called, they resolve it as reached or
could-not-reach, with a note. Resolving moves the message from `flagged` to `cancelled` with one
of the two resolution reasons (the state owner checks the move), and the audit row keeps the
outcome, the note and who: the count of flagged messages (and its alert) goes down, and the
trail says what was done; `resolutions` reads those notes back (who, when, what was done).

A patient's reply that no keyword handled waits in the inbox until staff mark it handled
(`mark_handled`: who and when are kept on the row and in the audit log).

The API, the CLI and the console call these same functions.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from engage.errors import Conflict, InvalidInput, NotFound
from engage.planning.reasons import RESOLVED_REACHED, RESOLVED_UNREACHABLE
from engage.store.audit import AuditLog, audit
from engage.store.inbound import InboundMessage
from engage.store.message_states import transition
from engage.store.messages import Message, MessageState
from engage.store.patients import Patient

NOTE_MAX = 500
RESOLVED_ACTION = "message.flag-resolved"


class Resolution(StrEnum):
    REACHED = "reached"  # staff spoke to the patient and gave the message's content
    UNREACHABLE = "unreachable"  # staff tried and could not reach the patient


REASONS = {Resolution.REACHED: RESOLVED_REACHED, Resolution.UNREACHABLE: RESOLVED_UNREACHABLE}


@dataclass(frozen=True)
class Flagged:
    """One flagged message as staff need it: who to call, on what number, and why."""

    message_id: int
    patient_id: int
    patient_name: str
    phone: str | None
    email: str | None
    timezone: str
    sequence: str
    step_id: str
    channel: str
    due_at: datetime
    reason: str


@dataclass(frozen=True)
class Resolved:
    message_id: int
    resolution: Resolution
    reason: str
    actor: str
    at: datetime


def flagged(session: Session, *, limit: int = 200) -> list[Flagged]:
    """The flagged messages still to handle, oldest due first (the most overdue call first)."""
    query = (
        select(Message, Patient)
        .join(Patient, Patient.id == Message.patient_id)
        .where(Message.state == MessageState.FLAGGED)
        .order_by(Message.due_at, Message.id)
        .limit(limit)
    )
    return [_view(m, p) for m, p in session.execute(query).all()]


def _view(m: Message, p: Patient) -> Flagged:
    return Flagged(
        message_id=m.id,
        patient_id=p.id,
        patient_name=f"{p.first_name} {p.last_name}".strip(),
        phone=p.phone,
        email=p.email,
        timezone=p.timezone,
        sequence=m.sequence,
        step_id=m.step_id,
        channel=m.channel,
        due_at=m.due_at,
        reason=m.reason,
    )


def resolve(
    session: Session,
    message_id: int,
    resolution: Resolution | str,
    note: str,
    *,
    actor: str,
    now: datetime,
) -> Resolved:
    """Record that staff handled flagged message `message_id` (in the caller's transaction).

    Raises InvalidInput for an unknown resolution or a blank or over-long note, NotFound for an
    unknown message, and Conflict when the message is not (or no longer) flagged.
    """
    outcome = _resolution(resolution)
    text = note.strip()
    if not text:
        raise InvalidInput("note", "required: what was done (who was called, what was said)")
    if len(text) > NOTE_MAX:
        raise InvalidInput("note", f"at most {NOTE_MAX} characters (got {len(text)})")
    message = session.execute(
        select(Message).where(Message.id == message_id).with_for_update()
    ).scalar_one_or_none()
    if message is None:
        raise NotFound(f"message {message_id} not found")
    if message.state != MessageState.FLAGGED:
        raise Conflict(f"message {message_id} is {message.state}, not flagged")
    flagged_reason = message.reason
    transition(session, message, MessageState.CANCELLED, REASONS[outcome], actor, at=now)
    audit(
        session,
        actor=actor,
        action=RESOLVED_ACTION,
        entity="message",
        entity_id=message.id,
        before={"state": MessageState.FLAGGED.value, "reason": flagged_reason},
        after={"resolution": outcome.value, "note": text},
        at=now,
    )
    return Resolved(message.id, outcome, REASONS[outcome], actor, now)


def _resolution(value: Resolution | str) -> Resolution:
    try:
        return Resolution(value)
    except ValueError:
        choices = ", ".join(r.value for r in Resolution)
        raise InvalidInput("resolution", f"{value!r} is not one of {choices}") from None


@dataclass(frozen=True)
class Note:
    """A resolved flag as the trail keeps it: which message, the outcome, the note, who, when."""

    message_id: int
    resolution: str
    note: str
    actor: str
    at: datetime


def resolutions(
    session: Session,
    *,
    since: datetime | None = None,
    message_ids: list[int] | None = None,
    limit: int = 50,
) -> list[Note]:
    """Resolved flags, newest first: since `since`, or those of `message_ids` (from the audit)."""
    query = select(AuditLog).where(AuditLog.action == RESOLVED_ACTION)
    if since is not None:
        query = query.where(AuditLog.at >= since)
    if message_ids is not None:
        if not message_ids:
            return []
        query = query.where(
            AuditLog.entity == "message",
            AuditLog.entity_id.in_([str(i) for i in message_ids]),
        )
    rows = session.scalars(query.order_by(AuditLog.at.desc(), AuditLog.id.desc()).limit(limit))
    return [
        Note(
            message_id=int(row.entity_id),
            resolution=str((row.after or {}).get("resolution", "")),
            note=str((row.after or {}).get("note", "")),
            actor=row.actor,
            at=row.at,
        )
        for row in rows
    ]


@dataclass(frozen=True)
class Handled:
    inbound_id: int
    actor: str
    at: datetime


def mark_handled(session: Session, inbound_id: int, *, actor: str, now: datetime) -> Handled:
    """Record that staff read reply `inbound_id` and did what it asked (caller's transaction).

    Raises NotFound for an unknown reply and Conflict when someone already handled it (the
    first one's name and time stand).
    """
    reply = session.get(InboundMessage, inbound_id)
    if reply is None:
        raise NotFound(f"reply {inbound_id} not found")
    marked = session.execute(
        update(InboundMessage)
        .where(InboundMessage.id == inbound_id, InboundMessage.handled_at.is_(None))
        .values(handled_at=now, handled_by=actor[:64])
        .execution_options(synchronize_session=False)
    )
    if int(getattr(marked, "rowcount", 0) or 0) != 1:
        session.refresh(reply)
        raise Conflict(f"reply {inbound_id} was already handled by {reply.handled_by}")
    audit(
        session,
        actor=actor,
        action="inbound.handled",
        entity="inbound_message",
        entity_id=inbound_id,
        after={"handled_at": now.isoformat()},
        at=now,
    )
    return Handled(inbound_id, actor[:64], now)
