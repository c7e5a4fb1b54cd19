"""All of a patient's enrollments at once: pause (optionally until a date), resume, unenroll.

What staff mean by "hold this patient's messages while they travel" or "stop everything": one
call, one transaction of the enrollment service, every enrollment audited.
"""

from __future__ import annotations

from fastapi import APIRouter
from sqlalchemy import select
from sqlalchemy.orm import Session

from engage import enrollment as service
from engage.api import errors
from engage.api.enrollments import EnrollmentOut, Pause, Reason, enrollment_out, pause_end
from engage.api.fields import Id
from engage.api.params import WRITE, Db, Now, Plan, Staff
from engage.api.patients import load_patient
from engage.store.enrollments import Enrollment

router = APIRouter(tags=["enrollments"], responses=errors.responses(400, 401, 403))


def _out(session: Session, ids: list[int]) -> list[EnrollmentOut]:
    rows = session.scalars(select(Enrollment).where(Enrollment.id.in_(ids)).order_by(Enrollment.id))
    return [enrollment_out(session, e) for e in rows]


@router.post(
    "/patients/{patient_id}/enrollments/pause", response_model=list[EnrollmentOut], responses=WRITE
)
def pause_all(
    patient_id: Id, body: Pause, who: Staff, session: Db, now: Now
) -> list[EnrollmentOut]:
    """Pause every active enrollment of the patient (409 if none), until resumed or `until`."""
    until = pause_end(body, load_patient(session, patient_id).timezone)
    ids = service.pause_patient(
        session, patient_id, reason=body.reason, now=now, actor=who.actor, until=until
    )
    return _out(session, ids)


@router.post(
    "/patients/{patient_id}/enrollments/resume", response_model=list[EnrollmentOut], responses=WRITE
)
def resume_all(
    patient_id: Id, who: Staff, session: Db, plan: Plan, now: Now
) -> list[EnrollmentOut]:
    """Resume every paused enrollment of the patient (409 if none), re-planning from now."""
    ids = service.resume_patient(session, plan, patient_id, now=now, actor=who.actor)
    return _out(session, ids)


@router.post(
    "/patients/{patient_id}/enrollments/unenroll",
    response_model=list[EnrollmentOut],
    responses=WRITE,
)
def unenroll_all(
    patient_id: Id, body: Reason, who: Staff, session: Db, now: Now
) -> list[EnrollmentOut]:
    """Unenroll the patient from every open enrollment; unsent messages cancelled with reason."""
    done = service.unenroll_patient(
        session, patient_id, reason=body.reason, now=now, actor=who.actor
    )
    return _out(session, list(done))
