"""Enroll: pick the course's sequences, type the infusion times in the patient's zone, see the
patient's whole forward timeline (every message, when, which channel, why any is shifted or
will not go), then confirm. The preview is the course service's dry run, rolled back.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from fastapi import APIRouter
from fastapi.responses import Response

from engage.console import web
from engage.console.app_errors import problem_page
from engage.console.localinput import parse_local
from engage.console.pages.patient import REFUSALS, back
from engage.enrollment import Slot, enroll_course
from engage.enrollment.common import open_enrollments
from engage.enrollment.dryrun import preview_course
from engage.errors import InvalidInput
from engage.patients.records import load_patient
from engage.planning.reasons import NO_CONSENTED_CHANNEL
from engage.store.messages import MessageState

router = APIRouter()
SLOTS = 6  # a course is often up to six infusions
DEFAULT = ("education", "pre-infusion", "post-infusion")


def _choices(form: Any, zone: str) -> tuple[list[str], list[Slot], str]:
    sequences = [str(s) for s in form.getlist("sequence")][:20]
    if not sequences:
        raise InvalidInput("sequence", "choose at least one sequence")
    slots = [
        Slot(parse_local(f"infusion_{n}", text, zone))
        for n, text in enumerate(form.getlist("infusion"), start=1)
        if str(text).strip()
    ]
    return sequences, slots, str(form.get("location", ""))[:200]


@dataclass(frozen=True)
class Held:
    """The previewed messages that will not go, said above the table: a patient who never
    agreed to texts or email would otherwise be enrolled into a course of silence."""

    count: int
    flagged: int
    no_consent: bool


def _held(messages: Sequence[Any]) -> Held | None:
    held = [m for m in messages if m.shown_state in (MessageState.SUPPRESSED, MessageState.FLAGGED)]
    if not held:
        return None
    return Held(
        count=len(held),
        flagged=sum(m.shown_state == MessageState.FLAGGED for m in held),
        no_consent=any(NO_CONSENTED_CHANNEL in (m.reason or "") for m in held),
    )


@router.get("/patients/{patient_id}/enroll")
def enroll_page(patient_id: int, d: web.StaffDesk, env: web.Env) -> Response:
    query, plan, now = d.request.query_params, d.plan, d.now
    preview, error, field = None, "", ""
    with d.sessions() as session:
        patient = load_patient(session, patient_id)
        if query.get("preview"):
            try:
                sequences, slots, location = _choices(query, patient.timezone)
                preview = preview_course(
                    session, plan, env, patient_id, sequences, slots, now=now, location=location
                )
            except REFUSALS as exc:
                field = exc.field if isinstance(exc, InvalidInput) else ""
                error = str(exc)
        # What the patient is already in is shown as such, never offered again (enrolling
        # twice is refused): staff change those on the patient's page.
        enrolled = {e.sequence: e.state for e in open_enrollments(session, patient_id)}
        chosen = (
            query.getlist("sequence")
            if query.get("preview")
            else [name for name in DEFAULT if name not in enrolled]
        )
        times = [*query.getlist("infusion"), *[""] * SLOTS][:SLOTS]
        return d.render(
            "enroll.html",
            title="Enroll",
            p=patient,
            zone=patient.timezone,
            sequences=list(plan.sequences.values()),
            chosen=chosen,
            enrolled=enrolled,
            times=times,
            location=query.get("location", ""),
            preview=preview,
            held=_held(preview.messages) if preview else None,
            error=error,
            field=field,
        )


@router.post("/patients/{patient_id}/enroll")
async def enroll(patient_id: int, d: web.StaffDesk) -> Response:
    await web.checked(d.request, d.who)
    form = await d.request.form()
    with d.sessions() as session:
        patient = load_patient(session, patient_id)
        try:
            sequences, slots, location = _choices(form, patient.timezone)
            course = enroll_course(
                session, d.plan, patient_id, sequences, slots, now=d.now, actor=d.who.actor,
                location=location,
            )  # fmt: skip
        except REFUSALS as exc:
            return problem_page(d.request, d.who, exc)
    names = ", ".join(e.sequence for e in course.enrollments)
    return back(patient_id, f"Enrolled in {names}; {len(course.booked)} appointment(s) booked.")
