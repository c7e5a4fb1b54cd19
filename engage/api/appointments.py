"""Staff routes for infusion appointments: book, move, cancel, confirm.

Moving an appointment re-plans exactly its pending messages, in one transaction (sent ones are
untouched, and each moved message records why); cancelling withdraws its unsent ones.
The answer lists the appointment's messages, so staff see what followed.
"""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field

from engage import enrollment as service
from engage.api import errors
from engage.api.fields import Id
from engage.api.params import READ, WRITE, Db, Now, Plan, RequestBody, Sessions, Staff, creates
from engage.api.patients import load_patient, patient_rows
from engage.api.walltime import WallTime, instant
from engage.enrollment import common
from engage.inbound.confirmations import confirm
from engage.store.appointments import Appointment

router = APIRouter(tags=["appointments"], responses=errors.responses(400, 401, 403))


class AppointmentCreate(RequestBody):
    starts_at: WallTime
    ends_at: WallTime | None = Field(default=None, description="Default: the clinic's length.")
    location: str = Field(default="", max_length=200)


class AppointmentMove(RequestBody):
    starts_at: WallTime
    ends_at: WallTime | None = Field(default=None, description="Default: keep its length.")


class Cancel(RequestBody):
    reason: str = Field(default="appointment cancelled", min_length=1, max_length=500)


class MessageBrief(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    sequence: str
    step: str = Field(validation_alias="step_id")
    channel: str
    state: str
    reason: str
    due_at: datetime


class AppointmentOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    patient_id: int
    starts_at: datetime
    ends_at: datetime
    location: str
    state: str
    confirmed_at: datetime | None
    messages: list[MessageBrief]  # by due time


def times(body: AppointmentCreate | AppointmentMove, zone: str) -> tuple[datetime, datetime | None]:
    """The body's start and end as instants; naive ones are the patient's local time."""
    starts_at = instant(body.starts_at, zone, "starts_at")
    ends_at = None if body.ends_at is None else instant(body.ends_at, zone, "ends_at")
    return starts_at, ends_at


@creates(router, "/patients/{patient_id}/appointments", AppointmentOut)
def add(
    patient_id: Id, body: AppointmentCreate, who: Staff, session: Db, plan: Plan, now: Now
) -> AppointmentOut:
    """Book an infusion; every open enrollment of the patient plans its messages."""
    zone = load_patient(session, patient_id).timezone
    starts_at, ends_at = times(body, zone)
    appointment = service.add_appointment(
        session,
        plan,
        patient_id,
        starts_at,
        ends_at,
        location=body.location,
        now=now,
        actor=who.actor,
    )
    return AppointmentOut.model_validate(appointment)


@router.get(
    "/patients/{patient_id}/appointments", response_model=list[AppointmentOut], responses=READ
)
def list_appointments(patient_id: Id, who: Staff, session: Db) -> list[AppointmentOut]:
    rows = patient_rows(
        session, patient_id, Appointment.patient_id, Appointment.starts_at, Appointment.id
    )
    return [AppointmentOut.model_validate(a) for a in rows]


@router.get("/appointments/{appointment_id}", response_model=AppointmentOut, responses=READ)
def get_appointment(appointment_id: Id, who: Staff, session: Db) -> AppointmentOut:
    return AppointmentOut.model_validate(common.get_appointment(session, appointment_id))


@router.post("/appointments/{appointment_id}/move", response_model=AppointmentOut, responses=WRITE)
def move(
    appointment_id: Id,
    body: AppointmentMove,
    who: Staff,
    session: Db,
    plan: Plan,
    now: Now,
) -> AppointmentOut:
    """Move it: its scheduled messages move with it (same ids, new due times, the reason)."""
    zone = common.appointment_and_patient(session, appointment_id)[1].timezone
    starts_at, ends_at = times(body, zone)
    appointment = service.move_appointment(
        session, plan, appointment_id, starts_at, ends_at, now=now, actor=who.actor
    )
    return AppointmentOut.model_validate(appointment)


@router.post(
    "/appointments/{appointment_id}/cancel", response_model=AppointmentOut, responses=WRITE
)
def cancel(
    appointment_id: Id, body: Cancel, who: Staff, session: Db, plan: Plan, now: Now
) -> AppointmentOut:
    """Cancel it and every message of it not yet sent, recording the reason on each."""
    appointment = service.cancel_appointment(
        session, plan, appointment_id, reason=body.reason, now=now, actor=who.actor
    )
    return AppointmentOut.model_validate(appointment)


@router.post(
    "/appointments/{appointment_id}/confirm", response_model=AppointmentOut, responses=WRITE
)
def confirm_appointment(
    appointment_id: Id, who: Staff, sessions: Sessions, now: Now
) -> AppointmentOut:
    """Record that the patient confirmed (as replying C by SMS does)."""
    with sessions.begin() as session:
        appointment = common.get_appointment(session, appointment_id)
        confirm(session, appointment, now=now, actor=who.actor)
        return AppointmentOut.model_validate(appointment)
