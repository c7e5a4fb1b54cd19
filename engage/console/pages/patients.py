"""Patients: one search box (name, phone, email, external reference), create and edit."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy.exc import IntegrityError

from engage.console import forms, queries, web
from engage.errors import DuplicateError, InvalidInput
from engage.patients import records
from engage.store.patients import Patient

router = APIRouter()


@router.get("/patients")
def patients(
    request: Request, who: web.Staff, sessions: web.Sessions, q: str = "", page: int = 1
) -> Response:
    page = max(1, min(page, 10_000))
    per = queries.PER_PAGE
    with sessions() as session:
        rows = records.find(session, q[:200], limit=per + 1, offset=(page - 1) * per)
    return web.render(
        request,
        "patients.html",
        who,
        title="Patients",
        q=q,
        rows=rows[:per],
        page=page,
        has_next=len(rows) > per,
    )


@router.get("/patients/new")
def new_patient(request: Request, who: web.Staff, plan: web.Plan) -> Response:
    blank = {"timezone": plan.clinic.timezone, "locale": plan.clinic.default_locale}
    return _form(request, who, None, blank, {})


@router.post("/patients/new")
async def create(
    request: Request, who: web.Staff, sessions: web.Sessions, now: web.Now
) -> Response:
    form = await web.checked(request, who)
    values, errors = forms.patient_values(form)
    if not errors:
        try:
            with sessions.begin() as session:
                patient = records.create_patient(session, values, actor=who.actor, now=now)
            return RedirectResponse(f"{web.PREFIX}/patients/{patient.id}?saved=1", 303)
        except (DuplicateError, InvalidInput) as exc:
            errors = _problem(exc)
        except IntegrityError:
            errors = {"form": "a patient with the same phone, email or reference was just saved"}
    return _form(request, who, None, form, errors, 422)


@router.get("/patients/{patient_id}/edit")
def edit(request: Request, patient_id: int, who: web.Staff, sessions: web.Sessions) -> Response:
    with sessions() as session:
        patient = records.load_patient(session, patient_id)
    values = {key: getattr(patient, key) or "" for key in forms.PATIENT_FIELDS}
    return _form(request, who, patient, values, {})


@router.post("/patients/{patient_id}/edit")
async def update(
    request: Request, patient_id: int, who: web.Staff, sessions: web.Sessions, now: web.Now
) -> Response:
    form = await web.checked(request, who)
    values, errors = forms.patient_values(form)
    with sessions() as session:
        patient = records.load_patient(session, patient_id)
    if not errors:
        values["external_ref"] = values.get("external_ref") or None
        try:
            with sessions.begin() as session:
                records.update_patient(session, patient_id, values, actor=who.actor, now=now)
            return RedirectResponse(f"{web.PREFIX}/patients/{patient_id}?saved=1", 303)
        except (DuplicateError, InvalidInput) as exc:
            errors = _problem(exc)
    return _form(request, who, patient, form, errors, 422)


def _problem(exc: DuplicateError | InvalidInput) -> dict[str, str]:
    if isinstance(exc, DuplicateError):
        return {
            exc.field: f"already belongs to patient {exc.existing_id}",
            "duplicate_of": str(exc.existing_id),
        }
    return {exc.field: exc.problem}


def _form(
    request: Request,
    who: web.Viewer,
    patient: Patient | None,
    values: Mapping[str, Any],
    errors: dict[str, str],
    status: int = 200,
) -> Response:
    """The new or edit patient form, with each problem at its field."""
    title = "Edit patient" if patient else "New patient"
    return web.render(
        request, "patient_form.html", who, status, title=title, values=values, errors=errors,
        patient=patient,
    )  # fmt: skip
