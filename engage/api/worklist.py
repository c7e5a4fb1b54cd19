"""Staff's worklist over HTTP: the flagged safety messages to call about, and resolving one.

The answers are engage.ops.worklist's own dataclasses, so the API says what the console says.
"""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from engage.api import errors
from engage.api.fields import Id
from engage.api.params import Now, Sessions, Staff
from engage.ops import worklist
from engage.ops.worklist import NOTE_MAX, Flagged, Resolved

router = APIRouter(tags=["worklist"], responses=errors.responses(400, 401, 403))


class ResolveIn(BaseModel):
    resolution: Literal["reached", "unreachable"]
    note: str = Field(min_length=1, max_length=NOTE_MAX, description="What was done.")


@router.get("/flagged", response_model=list[Flagged], responses=errors.responses(422))
def flagged_list(
    who: Staff, sessions: Sessions, limit: Annotated[int, Query(ge=1, le=1000)] = 200
) -> list[Flagged]:
    """Safety messages that reached nobody, most overdue first: who to call, and why."""
    with sessions() as session:
        rows = worklist.flagged(session, limit=limit)
    return rows


@router.post(
    "/flagged/{message_id}/resolve",
    response_model=Resolved,
    responses=errors.responses(404, 409, 422),
)
def flagged_resolve(
    message_id: Id, body: ResolveIn, who: Staff, sessions: Sessions, now: Now
) -> Resolved:
    """Staff called the patient: reached or could not reach, with a note (audited)."""
    with sessions.begin() as session:
        done = worklist.resolve(
            session, message_id, body.resolution, body.note, actor=who.actor, now=now
        )
    return done
