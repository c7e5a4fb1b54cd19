"""What every service function shares: one transaction per call, and loading rows by id."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Concatenate, ParamSpec, TypeVar

from sqlalchemy import select
from sqlalchemy.orm import Session

from engage.errors import NotFound, PlanningError
from engage.schedule.models import Schedule, Sequence
from engage.store.appointments import Appointment
from engage.store.enrollments import Enrollment, EnrollmentState
from engage.store.patients import Patient

P = ParamSpec("P")
R = TypeVar("R")
T = TypeVar("T")
OPEN = (EnrollmentState.ACTIVE, EnrollmentState.PAUSED)  # enrollments whose plan is kept current


def transaction(fn: Callable[Concatenate[Session, P], R]) -> Callable[Concatenate[Session, P], R]:
    """Commit what `fn` did to the session, or roll all of it back and re-raise."""

    @functools.wraps(fn)
    def run(session: Session, /, *args: P.args, **kwargs: P.kwargs) -> R:
        try:
            result = fn(session, *args, **kwargs)
            session.commit()
        except BaseException:
            session.rollback()
            raise
        return result

    return run


def get_patient(session: Session, patient_id: int) -> Patient:
    return _load(session, Patient, patient_id, "patient")


def get_enrollment(session: Session, enrollment_id: int) -> Enrollment:
    return _load(session, Enrollment, enrollment_id, "enrollment")


def get_appointment(session: Session, appointment_id: int) -> Appointment:
    return _load(session, Appointment, appointment_id, "appointment")


def _load(session: Session, model: type[T], row_id: int, noun: str) -> T:
    """The row `row_id` of `model`, or NotFound worded the one way every front door shows."""
    row = session.get(model, row_id)
    if row is None:
        raise NotFound(f"{noun} {row_id} not found")
    return row


def appointment_and_patient(session: Session, appointment_id: int) -> tuple[Appointment, Patient]:
    """The appointment and whose it is (every move or cancel reads times in the patient's zone)."""
    appointment = get_appointment(session, appointment_id)
    return appointment, get_patient(session, appointment.patient_id)


def get_sequence(schedule: Schedule, name: str) -> Sequence:
    try:
        return schedule.sequence(name)
    except KeyError as exc:
        raise PlanningError(str(exc.args[0])) from None


def open_enrollments(session: Session, patient_id: int) -> list[Enrollment]:
    return list(
        session.scalars(
            select(Enrollment)
            .where(Enrollment.patient_id == patient_id, Enrollment.state.in_(OPEN))
            .order_by(Enrollment.id)
        )
    )
