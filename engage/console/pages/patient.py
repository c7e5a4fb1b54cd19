"""A patient: details, consent and its ledger, enrollments, appointments, the timeline.

Every time is in the patient's zone, named. The timeline is the timeline service's (the
channel a message will really use, why it is shifted or will not go); a message's text opens
in place with htmx, or as its own page without JavaScript.
"""

from __future__ import annotations

from urllib.parse import quote

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy.orm import Session

from engage import enrollment as service
from engage.console import web
from engage.console.app_errors import problem_page
from engage.console.localinput import parse_local
from engage.console.pages.consent import consent_context
from engage.errors import Conflict, InvalidInput, NotFound, PlanningError
from engage.ops import worklist
from engage.patients.records import load_patient
from engage.store.enrollments import Enrollment
from engage.store.messages import Message
from engage.timeline import patient_timeline

router = APIRouter()
REFUSALS = (InvalidInput, NotFound, Conflict, PlanningError)
PER_PAGE = 50


def back(patient_id: int, note: str = "") -> RedirectResponse:
    suffix = f"?done={quote(note)}" if note else ""
    return RedirectResponse(f"{web.PREFIX}/patients/{patient_id}{suffix}", 303)


@router.get("/patients/{patient_id}")
def patient_page(
    request: Request,
    patient_id: int,
    who: web.Staff,
    sessions: web.Sessions,
    plan: web.Plan,
    env: web.Env,
    page: int = 1,
    done: str = "",
    saved: int = 0,
) -> Response:
    page = max(1, min(page, 10_000))
    with sessions() as session:
        patient = load_patient(session, patient_id)
        timeline = patient_timeline(session, plan, env, patient_id, with_text=False)
        consent = consent_context(session, patient, limit=20)
        start = (page - 1) * PER_PAGE
        shown = timeline.messages[start : start + PER_PAGE]
        notes = {
            note.message_id: note
            for note in worklist.resolutions(session, message_ids=[m.id for m in shown])
        }
    return web.render(
        request,
        "patient.html",
        who,
        title=f"{patient.first_name} {patient.last_name}",
        p=patient,
        t=timeline,
        messages=shown,
        notes=notes,
        page=page,
        has_next=len(timeline.messages) > start + PER_PAGE,
        **consent,
        done=done or ("Saved." if saved else ""),
        zone=patient.timezone,
    )


@router.get("/messages/{message_id}")
def message_text(
    request: Request,
    message_id: int,
    who: web.Staff,
    sessions: web.Sessions,
    plan: web.Plan,
    env: web.Env,
) -> Response:
    """The message as the patient gets (or got) it: the timeline service's text, rendered with
    the facts it was (or will be) sent with, on the channel it really uses."""
    with sessions() as session:
        message = session.get(Message, message_id)
        if message is None:
            raise NotFound(f"message {message_id} not found")
        patient = load_patient(session, message.patient_id)
        timeline = patient_timeline(session, plan, env, patient.id)
    entry = next(e for e in timeline.messages if e.id == message_id)
    text = entry.text
    name = "message_text.html" if request.headers.get("hx-request") else "message_page.html"
    return web.render(
        request, name, who, title=f"Message {message_id}", m=message, p=patient, text=text
    )


@router.post("/enrollments/{enrollment_id}/{action}")
async def enrollment_action(enrollment_id: int, action: str, d: web.StaffDesk) -> Response:
    form = await web.checked(d.request, d.who)
    reason = str(form.get("reason", ""))[:500]
    with d.sessions() as session:
        enrollment = session.get(Enrollment, enrollment_id)
        if enrollment is None:
            raise NotFound(f"enrollment {enrollment_id} not found")
        patient_id = enrollment.patient_id
        try:
            _act(session, d, enrollment_id, action, reason)
        except REFUSALS as exc:
            return problem_page(d.request, d.who, exc)
    return back(patient_id, f"Enrollment {enrollment_id}: {action} done.")


def _act(session: Session, d: web.Desk, enrollment_id: int, action: str, reason: str) -> None:
    if action in ("pause", "unenroll") and not reason:
        raise InvalidInput("reason", f"say why you {action} (the patient's record keeps it)")
    actor, now = d.who.actor, d.now
    if action == "pause":
        service.pause(session, enrollment_id, reason=reason, now=now, actor=actor)
    elif action == "resume":
        service.resume(session, d.plan, enrollment_id, now=now, actor=actor)
    elif action == "unenroll":
        service.unenroll(session, enrollment_id, reason=reason, now=now, actor=actor)
    else:
        raise NotFound(f"no action {action!r}")


@router.post("/patients/{patient_id}/appointments")
async def book(patient_id: int, d: web.StaffDesk) -> Response:
    form = await web.checked(d.request, d.who)
    with d.sessions() as session:
        patient = load_patient(session, patient_id)
        try:
            starts = parse_local("starts_at", form.get("starts_at"), patient.timezone)
            location = str(form.get("location", ""))[:200]
            service.add_appointment(
                session, d.plan, patient_id, starts, location=location, now=d.now, actor=d.who.actor
            )
        except REFUSALS as exc:
            return problem_page(d.request, d.who, exc)
    return back(patient_id, "Appointment booked; its messages are planned.")
