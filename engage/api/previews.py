"""What a patient would receive if enrolled now: the same answer as `engage simulate --json`.

Nothing is stored. `/preview` takes the recipient's zone, language and channels; the patient
variant takes them from a stored patient who is not (yet) enrolled in the sequence.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends
from pydantic import BaseModel, Field

from engage.api import deps, errors
from engage.api.enrollments import EventIn, anchor_events
from engage.api.fields import Id, Moment
from engage.api.params import READ, Now, Plan, RequestBody, Staff, Templates
from engage.api.patient_models import Channel, Locale, Zone
from engage.api.patients import load_patient
from engage.enrollment.anchors import END, START, infusion_length, split_events
from engage.enrollment.common import get_sequence
from engage.errors import InvalidInput
from engage.planning.planner import AnchorEvent, Recipient
from engage.planning.preview import preview
from engage.schedule.models import Schedule
from engage.store.patients import consented_channels

router = APIRouter(tags=["preview"], responses=errors.responses(400, 401, 403))


class PatientPreview(RequestBody):
    sequence: str = Field(min_length=1, max_length=64, examples=["pre-infusion"])
    events: list[EventIn] = Field(default=[], max_length=50)
    now: Moment | None = Field(default=None, description="Enrollment moment (default: now).")


class PreviewRequest(PatientPreview):
    timezone: Zone
    locale: Locale = "en"
    channels: list[Channel] = Field(
        default=["sms", "email"], min_length=1, max_length=2, description="Preferred first."
    )
    first_name: str = Field(default="Alex", min_length=1, max_length=100)


class PreviewItemOut(BaseModel):
    step: str
    channel: str
    template: str
    due_local: str
    due_utc: str
    critical: bool
    segments: int | None
    subject: str
    body: str
    skip_reason: str | None
    moved: str | None = Field(
        None, description="why the time is not the step's own (late, quiet hours), if it moved"
    )


def _events(plan: Schedule, given: list[EventIn], now: Any, zone: str) -> list[AnchorEvent]:
    single, pairs = split_events(plan, anchor_events(given, zone), infusion_length(plan))
    if not any(e.name == "enrolled" for e in single):
        single.append(AnchorEvent("enrolled", now))
    for n, (starts_at, ends_at) in enumerate(pairs, start=1):
        single += [
            AnchorEvent(START, starts_at, f"infusion:{n}", n),
            AnchorEvent(END, ends_at, f"infusion:{n}", n),
        ]
    return single


def _preview(
    plan: Schedule,
    env: Any,
    body: PatientPreview,
    recipient: Recipient,
    locale: str,
    first_name: str,
    now: Any,
) -> list[PreviewItemOut]:
    if locale not in plan.clinic.locales:
        raise InvalidInput("locale", f"the clinic writes in {', '.join(plan.clinic.locales)}")
    moment = body.now or now
    items = preview(
        schedule=plan,
        env=env,
        sequence=get_sequence(plan, body.sequence),
        recipient=recipient,
        events=_events(plan, body.events, moment, recipient.timezone),
        locale=locale,
        now=moment,
        first_name=first_name,
    )
    return [PreviewItemOut.model_validate(item.as_dict()) for item in items]


@router.post("/preview", response_model=list[PreviewItemOut], responses=errors.responses(422))
def preview_anyone(
    body: PreviewRequest, who: Staff, plan: Plan, env: Templates, now: Now
) -> list[PreviewItemOut]:
    """Every message a recipient like this would get, rendered, in order (nothing stored)."""
    if len(set(body.channels)) != len(body.channels):
        raise InvalidInput("channels", "a channel is listed twice")
    recipient = Recipient(body.timezone, tuple(body.channels))
    return _preview(plan, env, body, recipient, body.locale, body.first_name, now)


@router.post("/patients/{patient_id}/preview", response_model=list[PreviewItemOut], responses=READ)
def preview_patient(
    patient_id: Id,
    body: PatientPreview,
    who: Staff,
    sessions: Annotated[Any, Depends(deps.sessions)],
    plan: Plan,
    env: Templates,
    now: Now,
) -> list[PreviewItemOut]:
    """What this patient would get if enrolled in the sequence now, on their consented channels."""
    with sessions() as session:
        patient = load_patient(session, patient_id)
        recipient = Recipient(patient.timezone, consented_channels(patient))
        locale, first_name = patient.locale, patient.first_name
    return _preview(plan, env, body, recipient, locale, first_name, now)
