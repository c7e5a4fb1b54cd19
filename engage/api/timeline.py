"""A patient's timeline: every message sent and still to come, as it will really happen.

Local times in the patient's zone (named) beside UTC; for each pending message the channel it will
actually use given consent now, or why it will not go; paused enrollments' messages shown as
paused; moves as old -> new; the rendered text of each message. The service is
engage.timeline (the CLI's `engage timeline` and the console show the same).
"""

from __future__ import annotations

from dataclasses import asdict
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel
from sqlalchemy.orm import Session, sessionmaker

from engage.api import deps, errors
from engage.api.auth import Principal, require_role
from engage.api.fields import Id
from engage.schedule.models import Schedule
from engage.timeline import PatientTimeline, patient_timeline

router = APIRouter(tags=["timeline"], responses=errors.responses(400, 401, 403))
Staff = Annotated[Principal, Depends(require_role("staff"))]
Sessions = Annotated[sessionmaker[Session], Depends(deps.sessions)]
Plan = Annotated[Schedule, Depends(deps.schedule)]
Templates = Annotated[Any, Depends(deps.templates)]


class Change(BaseModel):
    at: datetime
    from_state: str | None
    to_state: str
    reason: str
    actor: str


class Move(BaseModel):
    at: datetime
    before: datetime
    after: datetime
    reason: str
    actor: str


class Text(BaseModel):
    subject: str
    body: str
    segments: int | None
    problem: str


class Entry(BaseModel):
    id: int
    enrollment_id: int
    sequence: str
    step: str
    template: str
    appointment_id: int | None
    occurrence: int
    critical: bool
    state: str
    shown_state: str
    reason: str
    due_at: datetime
    due_local: datetime
    planned_channel: str
    channel: str | None
    outlook: str
    queued_at: datetime | None
    sent_at: datetime | None
    delivered_at: datetime | None
    attempts: int
    provider: str | None
    provider_status: str | None
    last_error_code: str | None
    moves: list[Move]
    history: list[Change]
    text: Text | None


class AppointmentEntry(BaseModel):
    id: int
    starts_at: datetime
    starts_local: datetime
    ends_at: datetime
    state: str
    location: str
    moves: list[Move]


class EnrollmentEntry(BaseModel):
    id: int
    sequence: str
    state: str
    reason: str
    paused_until: datetime | None


class Timeline(BaseModel):
    patient_id: int
    timezone: str
    enrollments: list[EnrollmentEntry]
    appointments: list[AppointmentEntry]
    messages: list[Entry]


def timeline_out(found: PatientTimeline) -> Timeline:
    return Timeline.model_validate(asdict(found))


@router.get(
    "/patients/{patient_id}/timeline",
    response_model=Timeline,
    responses=errors.responses(404, 422),
)
def timeline(
    patient_id: Id,
    who: Staff,
    sessions: Sessions,
    plan: Plan,
    env: Templates,
    text: Annotated[bool, Query(description="Render each message's text.")] = True,
) -> Timeline:
    with sessions() as session:
        return timeline_out(patient_timeline(session, plan, env, patient_id, with_text=text))
