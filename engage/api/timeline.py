"""A patient's timeline: every message sent and still to come, as it will really happen.

Local times in the patient's zone (named) beside UTC; for each pending message the channel it will
actually use given consent now, or why it will not go; paused enrollments' messages shown as
paused; moves as old -> new; the rendered text of each message. The service is
engage.timeline (the CLI's `engage timeline` and the console show the same); its dataclasses are
the answer's schema, so the API cannot drift from what the service says.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from engage.api import errors
from engage.api.fields import Id
from engage.api.params import READ, Db, Plan, Staff, Templates
from engage.timeline import PatientTimeline, patient_timeline

router = APIRouter(tags=["timeline"], responses=errors.responses(400, 401, 403))


@router.get("/patients/{patient_id}/timeline", response_model=PatientTimeline, responses=READ)
def timeline(
    patient_id: Id,
    who: Staff,
    session: Db,
    plan: Plan,
    env: Templates,
    text: Annotated[bool, Query(description="Render each message's text.")] = True,
) -> PatientTimeline:
    return patient_timeline(session, plan, env, patient_id, with_text=text)
