"""Staff's worklist over HTTP: the flagged safety messages to call about, and resolving one."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from engage.api import errors
from engage.api.fields import Id
from engage.api.params import Now, Sessions, Staff
from engage.ops import worklist
from engage.ops.worklist import NOTE_MAX

router = APIRouter(tags=["worklist"], responses=errors.responses(400, 401, 403))


class FlaggedOut(BaseModel):
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


class ResolveIn(BaseModel):
    resolution: Literal["reached", "unreachable"]
    note: str = Field(min_length=1, max_length=NOTE_MAX, description="What was done.")


class ResolvedOut(BaseModel):
    message_id: int
    resolution: str
    reason: str
    actor: str
    at: datetime


@router.get("/flagged", response_model=list[FlaggedOut], responses=errors.responses(422))
def flagged_list(
    who: Staff, sessions: Sessions, limit: Annotated[int, Query(ge=1, le=1000)] = 200
) -> list[FlaggedOut]:
    """Safety messages that reached nobody, most overdue first: who to call, and why."""
    with sessions() as session:
        rows = worklist.flagged(session, limit=limit)
    return [FlaggedOut.model_validate(row, from_attributes=True) for row in rows]


@router.post(
    "/flagged/{message_id}/resolve",
    response_model=ResolvedOut,
    responses=errors.responses(404, 409, 422),
)
def flagged_resolve(
    message_id: Id, body: ResolveIn, who: Staff, sessions: Sessions, now: Now
) -> ResolvedOut:
    """Staff called the patient: reached or could not reach, with a note (audited)."""
    with sessions.begin() as session:
        done = worklist.resolve(
            session, message_id, body.resolution, body.note, actor=who.actor, now=now
        )
    return ResolvedOut.model_validate(done, from_attributes=True)
