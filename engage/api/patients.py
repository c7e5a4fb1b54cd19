"""Staff routes for patients: create, update, get, search.

A phone, email or external reference that already belongs to another patient is a 409 naming
that patient: merging two people by accident would send one person's reminders to the other.
"""

from __future__ import annotations

import hashlib
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query
from sqlalchemy import func, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from engage.api import deps, errors
from engage.api.auth import Principal, require_role
from engage.api.errors import DuplicateError
from engage.api.fields import Id
from engage.api.patient_models import PatientCreate, PatientOut, PatientUpdate
from engage.errors import Conflict, InvalidInput, NotFound
from engage.store.audit import audit
from engage.store.patients import Patient

router = APIRouter(tags=["patients"], responses=errors.responses(400, 401, 403))
Staff = Annotated[Principal, Depends(require_role("staff"))]
Sessions = Annotated[sessionmaker[Session], Depends(deps.sessions)]
Now = Annotated[Any, Depends(deps.now)]
KEYS = ("external_ref", "phone", "email")
_CONTACT = frozenset({"phone", "email"})


def load_patient(session: Session, patient_id: int) -> Patient:
    """The patient `patient_id`, or NotFound (404)."""
    patient = session.get(Patient, patient_id)
    if patient is None:
        raise NotFound(f"patient {patient_id} does not exist")
    return patient


@router.post(
    "/patients",
    status_code=201,
    response_model=PatientOut,
    responses={**errors.responses(422), 409: {"model": errors.DuplicatePatient}},
)
def create_patient(body: PatientCreate, who: Staff, sessions: Sessions, now: Now) -> PatientOut:
    """Create a patient; consent is recorded separately (PUT .../consents/{channel})."""
    values = body.model_dump()
    values["preferred_channel"] = body.preferred_channel or ("sms" if body.phone else "email")
    _check_reachable(values)
    try:
        with sessions.begin() as session:
            _refuse_duplicates(session, values, None)
            patient = Patient(**values, created_at=now, updated_at=now)
            session.add(patient)
            session.flush()
            audit(
                session,
                actor=who.actor,
                action="patient.create",
                entity="patient",
                entity_id=patient.id,
                after=_audit_view(values),
                at=now,
            )
            return PatientOut.of(patient)
    except IntegrityError:
        raise Conflict(
            "a patient with the same phone, email or external_ref was just stored"
        ) from None


@router.get("/patients", response_model=list[PatientOut], responses=errors.responses(422))
def search_patients(
    who: Staff,
    sessions: Sessions,
    name: Annotated[str | None, Query(max_length=100, description="Part of a name.")] = None,
    phone: Annotated[str | None, Query(max_length=32, description="Digits of a phone.")] = None,
    email: Annotated[str | None, Query(max_length=254, description="Part of an email.")] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
) -> list[PatientOut]:
    """Patients matching every criterion given (all patients when none is), by id."""
    query = select(Patient).order_by(Patient.id).limit(limit).offset(offset)
    if name and name.strip():
        pattern = f"%{name.strip().lower()}%"
        full = func.lower(Patient.first_name + " " + Patient.last_name)
        query = query.where(or_(full.like(pattern), func.lower(Patient.last_name).like(pattern)))
    if phone and (digits := "".join(ch for ch in phone if ch.isdigit())):
        query = query.where(Patient.phone.like(f"%{digits}%"))
    if email and email.strip():
        query = query.where(Patient.email.like(f"%{email.strip().lower()}%"))
    with sessions() as session:
        return [PatientOut.of(p) for p in session.execute(query).scalars()]


@router.get(
    "/patients/{patient_id}", response_model=PatientOut, responses=errors.responses(404, 422)
)
def get_patient(patient_id: Id, who: Staff, sessions: Sessions) -> PatientOut:
    with sessions() as session:
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
    given = body.model_dump(exclude_unset=True)
    for required in ("first_name", "last_name", "timezone", "locale", "preferred_channel"):
        if required in given and given[required] is None:
            raise InvalidInput(required, "cannot be null")
    try:
        with sessions.begin() as session:
            patient = load_patient(session, patient_id)
            changes = {k: v for k, v in given.items() if getattr(patient, k) != v}
            if not changes:
                return PatientOut.of(patient)
            before = {k: getattr(patient, k) for k in changes}
            _check_reachable(
                {k: getattr(patient, k) for k in (*KEYS, "preferred_channel")} | changes
            )
            _refuse_duplicates(session, changes, patient.id)
            for key, value in changes.items():
                setattr(patient, key, value)
            patient.updated_at = now
            audit(
                session,
                actor=who.actor,
                action="patient.update",
                entity="patient",
                entity_id=patient.id,
                before=_audit_view(before),
                after=_audit_view(changes),
                at=now,
            )
            session.flush()
            return PatientOut.of(patient)
    except IntegrityError:
        raise Conflict(
            "a patient with the same phone, email or external_ref was just stored"
        ) from None


def _check_reachable(values: dict[str, Any]) -> None:
    if not values.get("phone") and not values.get("email"):
        raise InvalidInput("phone", "a patient needs a phone or an email")
    preferred = values.get("preferred_channel")
    needed = {"sms": "phone", "email": "email"}.get(preferred or "")
    if needed and not values.get(needed):
        raise InvalidInput("preferred_channel", f"{preferred}, but there is no {needed}")


def _refuse_duplicates(session: Session, values: dict[str, Any], own_id: int | None) -> None:
    for key in KEYS:
        value = values.get(key)
        if value is None:
            continue
        column = getattr(Patient, key)
        query = select(Patient.id).where(column == value)
        if own_id is not None:
            query = query.where(Patient.id != own_id)
        existing = session.execute(query).scalar()
        if existing is not None:
            raise DuplicateError(key, existing)


def _audit_view(values: dict[str, Any]) -> dict[str, Any]:
    """Contact details appear as a short hash: the audit shows they changed, not to what."""
    return {
        key: _fingerprint(value) if key in _CONTACT and value else value
        for key, value in values.items()
    }


def _fingerprint(value: str) -> str:
    return "sha256:" + hashlib.sha256(value.encode()).hexdigest()[:12]
