"""A patient's timeline: every message sent and still to come, with what happened to each.

One row per outbox message, ordered by due time, each with its state and reason, channel, due
and sent times, the provider's status and error code, and the history of its state changes.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends
from pydantic import BaseModel
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from engage.api import deps, errors
from engage.api.auth import Principal, require_role
from engage.api.fields import Id
from engage.api.patients import load_patient
from engage.store.messages import Message, MessageEvent

router = APIRouter(tags=["timeline"], responses=errors.responses(400, 401, 403))
Staff = Annotated[Principal, Depends(require_role("staff"))]
Sessions = Annotated[sessionmaker[Session], Depends(deps.sessions)]


class Change(BaseModel):
    at: datetime
    from_state: str | None
    to_state: str
    reason: str
    actor: str


class Entry(BaseModel):
    id: int
    enrollment_id: int
    sequence: str
    step: str
    appointment_id: int | None
    occurrence: int
    channel: str
    template: str
    critical: bool
    state: str
    reason: str
    due_at: datetime
    queued_at: datetime | None
    sent_at: datetime | None
    delivered_at: datetime | None
    attempts: int
    provider: str | None
    provider_status: str | None
    last_error_code: str | None
    history: list[Change]


class Timeline(BaseModel):
    patient_id: int
    messages: list[Entry]


@router.get(
    "/patients/{patient_id}/timeline",
    response_model=Timeline,
    responses=errors.responses(404, 422),
)
def timeline(patient_id: Id, who: Staff, sessions: Sessions) -> Timeline:
    with sessions() as session:
        load_patient(session, patient_id)
        messages = list(
            session.scalars(
                select(Message)
                .where(Message.patient_id == patient_id)
                .order_by(Message.due_at, Message.id)
            )
        )
        history: dict[int, list[Change]] = defaultdict(list)
        for event in session.scalars(
            select(MessageEvent)
            .join(Message, Message.id == MessageEvent.message_id)
            .where(Message.patient_id == patient_id)
            .order_by(MessageEvent.id)
        ):
            history[event.message_id].append(
                Change(
                    at=event.at,
                    from_state=event.from_state,
                    to_state=event.to_state,
                    reason=event.reason,
                    actor=event.actor,
                )
            )
        return Timeline(
            patient_id=patient_id, messages=[_entry(m, history[m.id]) for m in messages]
        )


def _entry(message: Message, history: list[Change]) -> Entry:
    return Entry(
        id=message.id,
        enrollment_id=message.enrollment_id,
        sequence=message.sequence,
        step=message.step_id,
        appointment_id=message.appointment_id,
        occurrence=message.occurrence,
        channel=message.channel,
        template=message.template,
        critical=message.critical,
        state=str(message.state),
        reason=message.reason,
        due_at=message.due_at,
        queued_at=message.queued_at,
        sent_at=message.sent_at,
        delivered_at=message.delivered_at,
        attempts=message.attempts,
        provider=message.provider,
        provider_status=message.provider_status,
        last_error_code=message.last_error_code,
        history=history,
    )
