"""Moving or cancelling an appointment: first the diff of the patient's messages, then confirm.

The preview is the course service's dry run (the same code as the real change, rolled back),
so what staff see is what will happen: which messages move from when to when, which are
cancelled, which new ones (a notice to the patient) are planned.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response
from sqlalchemy.orm import Session

from engage import enrollment as service
from engage.console import web
from engage.console.app_errors import problem_page
from engage.console.localinput import parse_local
from engage.console.pages.patient import REFUSALS, back
from engage.console.timefmt import input_value
from engage.enrollment.dryrun import preview_cancel, preview_move
from engage.errors import InvalidInput, NotFound
from engage.patients.records import load_patient
from engage.store.appointments import Appointment

router = APIRouter()


def _load(session: Session, appointment_id: int) -> Appointment:
    appointment = session.get(Appointment, appointment_id)
    if appointment is None:
        raise NotFound(f"appointment {appointment_id} not found")
    return appointment


@router.get("/appointments/{appointment_id}/move")
def move_page(
    request: Request,
    appointment_id: int,
    who: web.Staff,
    sessions: web.Sessions,
    plan: web.Plan,
    now: web.Now,
    starts_at: str = "",
) -> Response:
    error, changes, new_start = "", None, None
    with sessions() as session:
        appointment = _load(session, appointment_id)
        patient = load_patient(session, appointment.patient_id)
        if starts_at:
            try:
                new_start = parse_local("starts_at", starts_at, patient.timezone)
                changes = preview_move(session, plan, appointment_id, new_start, now=now)
            except REFUSALS as exc:
                error = exc.problem if isinstance(exc, InvalidInput) else str(exc)
        return web.render(
            request,
            "appointment_change.html",
            who,
            title="Move appointment",
            kind="move",
            a=appointment,
            p=patient,
            zone=patient.timezone,
            starts_at=starts_at or input_value(appointment.starts_at, patient.timezone),
            new_start=new_start,
            changes=changes,
            error=error,
        )


@router.post("/appointments/{appointment_id}/move")
async def move(
    request: Request,
    appointment_id: int,
    who: web.Staff,
    sessions: web.Sessions,
    plan: web.Plan,
    now: web.Now,
) -> Response:
    form = await web.checked(request, who)
    with sessions() as session:
        appointment = _load(session, appointment_id)
        patient = load_patient(session, appointment.patient_id)
        try:
            starts = parse_local("starts_at", form.get("starts_at"), patient.timezone)
            service.move_appointment(
                session, plan, appointment_id, starts, now=now, actor=who.actor
            )
        except REFUSALS as exc:
            return problem_page(request, who, exc)
    return back(patient.id, "Appointment moved; its messages follow it.")


@router.get("/appointments/{appointment_id}/cancel")
def cancel_page(
    request: Request,
    appointment_id: int,
    who: web.Staff,
    sessions: web.Sessions,
    plan: web.Plan,
    now: web.Now,
) -> Response:
    with sessions() as session:
        appointment = _load(session, appointment_id)
        patient = load_patient(session, appointment.patient_id)
        try:
            changes = preview_cancel(session, plan, appointment_id, now=now)
        except REFUSALS as exc:
            return problem_page(request, who, exc)
        return web.render(
            request,
            "appointment_change.html",
            who,
            title="Cancel appointment",
            kind="cancel",
            a=appointment,
            p=patient,
            zone=patient.timezone,
            changes=changes,
            error="",
            starts_at="",
            new_start=None,
        )


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
        patient_id = _load(session, appointment_id).patient_id
        try:
            service.cancel_appointment(
                session, plan, appointment_id, reason=reason, now=now, actor=who.actor
            )
        except REFUSALS as exc:
            return problem_page(request, who, exc)
    return back(patient_id, "Appointment cancelled; its unsent messages are cancelled.")
