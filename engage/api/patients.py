"""Staff routes for patients: create, update, get, search (engage.patients.records does the work).

A phone, email or external reference that already belongs to another patient is a 409 naming
that patient: merging two people by accident would send one person's reminders to the other.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import InstrumentedAttribute, Session

from engage.api import errors
from engage.api.fields import Id
from engage.api.params import READ, Db, Now, Sessions, Staff
from engage.api.patient_models import PatientCreate, PatientOut, PatientUpdate
from engage.errors import Conflict
from engage.patients import records
from engage.store.patients import Patient

router = APIRouter(tags=["patients"], responses=errors.responses(400, 401, 403))
_RACE = "a patient with the same phone, email or external_ref was just stored"


def load_patient(session: Session, patient_id: int) -> Patient:
    """The patient `patient_id`, or NotFound (404)."""
    return records.load_patient(session, patient_id)


def patient_rows(
    session: Session, patient_id: int, owner: InstrumentedAttribute[int], *order: Any
) -> list[Any]:
    """The rows whose `owner` column is the patient, in `order`; NotFound (404) if no patient."""
    load_patient(session, patient_id)
    return list(session.scalars(select(owner.class_).where(owner == patient_id).order_by(*order)))


@router.post(
    "/patients",
    status_code=201,
    response_model=PatientOut,
    responses={**errors.responses(422), 409: {"model": errors.DuplicatePatient}},
)
def create_patient(body: PatientCreate, who: Staff, sessions: Sessions, now: Now) -> PatientOut:
    """Create a patient; consent is recorded separately (PUT .../consents/{channel})."""
    try:
        with sessions.begin() as session:
            patient = records.create_patient(session, body.model_dump(), actor=who.actor, now=now)
            return PatientOut.of(patient)
    except IntegrityError:
        raise Conflict(_RACE) from None


@router.get("/patients", response_model=list[PatientOut], responses=errors.responses(422))
def search_patients(
    who: Staff,
    session: Db,
    name: Annotated[str | None, Query(max_length=100, description="Part of a name.")] = None,
    phone: Annotated[str | None, Query(max_length=32, description="Digits of a phone.")] = None,
    email: Annotated[str | None, Query(max_length=254, description="Part of an email.")] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
) -> list[PatientOut]:
    """Patients matching every criterion given (all patients when none is), by id."""
    query = records.search_query(name, phone, email).limit(limit).offset(offset)
    return [PatientOut.of(p) for p in session.execute(query).scalars()]


@router.get("/patients/{patient_id}", response_model=PatientOut, responses=READ)
def get_patient(patient_id: Id, who: Staff, session: Db) -> PatientOut:
    return PatientOut.of(load_patient(session, patient_id))


@router.patch(
    "/patients/{patient_id}",
    response_model=PatientOut,
    responses={**errors.responses(404, 422), 409: {"model": errors.DuplicatePatient}},
)
def update_patient(
    patient_id: Id, body: PatientUpdate, who: Staff, sessions: Sessions, now: Now
) -> PatientOut:
    """Change the fields present in the body; every change is audited with before and after."""
    try:
        with sessions.begin() as session:
            patient = records.update_patient(
                session, patient_id, body.model_dump(exclude_unset=True), actor=who.actor, now=now
            )
            return PatientOut.of(patient)
    except IntegrityError:
        raise Conflict(_RACE) from None
