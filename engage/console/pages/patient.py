"""A patient: details, consent and its ledger, enrollments, appointments, the timeline.

Every time is in the patient's zone, named. The timeline's rendered text opens in place with
htmx, or as its own page without JavaScript.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response

from engage import enrollment as service
from engage.console import queries, web
from engage.console.app_errors import problem_page
from engage.console.localinput import parse_local
from engage.delivery.compose import compose
from engage.errors import Conflict, InvalidInput, NotFound, PlanningError, TemplateProblem
from engage.patients.records import load_patient
from engage.rendering.environment import make_environment
from engage.rendering.segments import count_segments
from engage.store.appointments import Appointment
from engage.store.enrollments import Enrollment
from engage.store.messages import Message

router = APIRouter()
REFUSALS = (InvalidInput, NotFound, Conflict, PlanningError)


def _back(patient_id: int, note: str = "") -> RedirectResponse:
    suffix = f"?done={note}" if note else ""
    return RedirectResponse(f"{web.PREFIX}/patients/{patient_id}{suffix}", 303)


@router.get("/patients/{patient_id}")
def patient_page(
    request: Request,
    patient_id: int,
    who: web.Staff,
    sessions: web.Sessions,
    page: int = 1,
    done: str = "",
    saved: int = 0,
) -> Response:
    with sessions() as session:
        patient = load_patient(session, patient_id)
        enrollments = list(
            session.query(Enrollment)
            .filter(Enrollment.patient_id == patient_id)
            .order_by(Enrollment.id)
            .limit(50)
        )
        timeline = queries.timeline(session, patient_id, min(page, 10_000))
        appointments = queries.patient_appointments(session, patient_id)
        ledger = [
            row
            for row in queries.audit_of(session, "patient", patient_id)
            if row.action.startswith("consent.")
        ]
    return web.render(
        request,
        "patient.html",
        who,
        title=f"{patient.first_name} {patient.last_name}",
        p=patient,
        enrollments=enrollments,
        timeline=timeline,
        appointments=appointments,
        ledger=ledger,
        done=done or ("Saved." if saved else ""),
        zone=patient.timezone,
    )


@router.get("/messages/{message_id}")
def message_text(
    request: Request, message_id: int, who: web.Staff, sessions: web.Sessions
) -> Response:
    """The message as the patient gets (or got) it, rendered from its template now."""
    settings = web.settings(request)
    with sessions() as session:
        message = session.get(Message, message_id)
        if message is None:
            raise NotFound(f"message {message_id} does not exist")
        patient = load_patient(session, message.patient_id)
        appointment = (
            session.get(Appointment, message.appointment_id) if message.appointment_id else None
        )
        env = getattr(request.app.state, "console_env", None) or make_environment(
            settings.templates_dir
        )
        request.app.state.console_env = env
        try:
            out = compose(
                schedule=web.schedule(request),
                env=env,
                message=message,
                patient=patient,
                channel=message.channel,
                appointment=appointment,
                public_url=settings.public_url,
                signing_secret=settings.signing_secret,
            )
            text, subject, problem = out.body, out.subject, ""
        except TemplateProblem as exc:
            text, subject, problem = "", "", str(exc)
    segments = count_segments(text) if message.channel == "sms" and text else None
    name = "message_text.html" if request.headers.get("hx-request") else "message_page.html"
    return web.render(
        request,
        name,
        who,
        title=f"Message {message_id}",
        m=message,
        p=patient,
        text=text,
        subject=subject,
        problem=problem,
        segments=segments,
    )


@router.post("/enrollments/{enrollment_id}/{action}")
async def enrollment_action(
    request: Request,
    enrollment_id: int,
    action: str,
    who: web.Staff,
    sessions: web.Sessions,
    plan: web.Plan,
    now: web.Now,
) -> Response:
    form = await web.checked(request, who)
    reason = str(form.get("reason", ""))[:500]
    with sessions() as session:
        enrollment = session.get(Enrollment, enrollment_id)
        if enrollment is None:
            raise NotFound(f"enrollment {enrollment_id} does not exist")
        patient_id = enrollment.patient_id
        try:
            if action in ("pause", "unenroll") and not reason:
                raise InvalidInput(
                    "reason", f"say why you {action} (the patient's record keeps it)"
                )
            if action == "pause":
                service.pause(session, enrollment_id, reason=reason, now=now, actor=who.actor)
            elif action == "resume":
                service.resume(session, plan, enrollment_id, now=now, actor=who.actor)
            elif action == "unenroll":
                service.unenroll(session, enrollment_id, reason=reason, now=now, actor=who.actor)
            else:
                raise NotFound(f"no action {action!r}")
        except REFUSALS as exc:
            return problem_page(request, who, exc)
    return _back(patient_id, f"Enrollment {enrollment_id}: {action} done.")


@router.post("/patients/{patient_id}/appointments")
async def book(
    request: Request,
    patient_id: int,
    who: web.Staff,
    sessions: web.Sessions,
    plan: web.Plan,
    now: web.Now,
) -> Response:
    form = await web.checked(request, who)
    with sessions() as session:
        patient = load_patient(session, patient_id)
        try:
            starts = parse_local("starts_at", form.get("starts_at"), patient.timezone)
            service.add_appointment(
                session,
                plan,
                patient_id,
                starts,
                location=str(form.get("location", ""))[:200],
                now=now,
                actor=who.actor,
            )
        except REFUSALS as exc:
            return problem_page(request, who, exc)
    return _back(patient_id, "Appointment booked; its messages are planned.")


@router.post("/appointments/{appointment_id}/cancel")
async def cancel(
    request: Request,
    appointment_id: int,
    who: web.Staff,
    sessions: web.Sessions,
    plan: web.Plan,
    now: web.Now,
) -> Response:
    form = await web.checked(request, who)
    reason = str(form.get("reason") or "appointment cancelled")[:500]
    with sessions() as session:
        appointment = session.get(Appointment, appointment_id)
        if appointment is None:
            raise NotFound(f"appointment {appointment_id} does not exist")
        patient_id = appointment.patient_id
        try:
            service.cancel_appointment(
                session, plan, appointment_id, reason=reason, now=now, actor=who.actor
            )
        except REFUSALS as exc:
            return problem_page(request, who, exc)
    return _back(patient_id, "Appointment cancelled; its unsent messages are cancelled.")
