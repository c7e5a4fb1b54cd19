"""Moving or cancelling an appointment: first the diff of the patient's messages, then confirm.

The preview is the course service's dry run (the same code as the real change, rolled back),
so what staff see is what will happen: which messages move from when to when, which are
cancelled, which new ones (a notice to the patient) are planned.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
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
from engage.store.patients import Patient

router = APIRouter()


def _load(session: Session, appointment_id: int) -> tuple[Appointment, Patient]:
    appointment = session.get(Appointment, appointment_id)
    if appointment is None:
        raise NotFound(f"appointment {appointment_id} not found")
    return appointment, load_patient(session, appointment.patient_id)


@router.get("/appointments/{appointment_id}/move")
def move_page(appointment_id: int, d: web.StaffDesk, starts_at: str = "") -> Response:
    error, changes, new_start = "", None, None
    with d.sessions() as session:
        appointment, patient = _load(session, appointment_id)
        if starts_at:
            try:
                new_start = parse_local("starts_at", starts_at, patient.timezone)
                changes = preview_move(session, d.plan, appointment_id, new_start, now=d.now)
            except REFUSALS as exc:
                error = exc.problem if isinstance(exc, InvalidInput) else str(exc)
        starts_at = starts_at or input_value(appointment.starts_at, patient.timezone)
        shown = {"changes": changes, "error": error, "new_start": new_start}
        return _change_page(d, "move", appointment, patient, starts_at=starts_at, **shown)


@router.post("/appointments/{appointment_id}/move")
async def move(appointment_id: int, d: web.StaffDesk) -> Response:
    form = await web.checked(d.request, d.who)
    with d.sessions() as session:
        _, patient = _load(session, appointment_id)
        try:
            starts = parse_local("starts_at", form.get("starts_at"), patient.timezone)
            service.move_appointment(
                session, d.plan, appointment_id, starts, now=d.now, actor=d.who.actor
            )
        except REFUSALS as exc:
            return problem_page(d.request, d.who, exc)
    return back(patient.id, "Appointment moved; its messages follow it.")


@router.get("/appointments/{appointment_id}/cancel")
def cancel_page(appointment_id: int, d: web.StaffDesk) -> Response:
    with d.sessions() as session:
        appointment, patient = _load(session, appointment_id)
        try:
            changes = preview_cancel(session, d.plan, appointment_id, now=d.now)
        except REFUSALS as exc:
            return problem_page(d.request, d.who, exc)
        return _change_page(d, "cancel", appointment, patient, changes=changes)


@router.post("/appointments/{appointment_id}/cancel")
async def cancel(appointment_id: int, d: web.StaffDesk) -> Response:
    form = await web.checked(d.request, d.who)
    reason = str(form.get("reason") or "appointment cancelled")[:500]
    with d.sessions() as session:
        _, patient = _load(session, appointment_id)
        try:
            service.cancel_appointment(
                session, d.plan, appointment_id, reason=reason, now=d.now, actor=d.who.actor
            )
        except REFUSALS as exc:
            return problem_page(d.request, d.who, exc)
    return back(patient.id, "Appointment cancelled; its unsent messages are cancelled.")


def _change_page(
    d: web.Desk, kind: str, appointment: Appointment, patient: Patient, **shown: Any
) -> Response:
    """The move or cancel page: the appointment, the diff of its messages (`changes`) or the
    `error`; a move's typed `starts_at` and `new_start`."""
    blank = {"changes": None, "error": "", "starts_at": "", "new_start": None}
    return d.render(
        "appointment_change.html",
        title=f"{kind.title()} appointment",
        kind=kind,
        a=appointment,
        p=patient,
        zone=patient.timezone,
        **(blank | shown),
    )
