"""Pause with an end date, and pause / resume / unenroll all of a patient's enrollments at once."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from engage.enrollment import enroll, pause, pause_patient, resume_patient, unenroll_patient
from engage.enrollment.autoresume import PauseEnder
from engage.errors import Conflict, InvalidInput
from engage.store import Enrollment, Message
from tests.api_kit import Api, build_api
from tests.factories import NOW, SCHEDULE, add_patient


def two_enrollments(session: Session) -> int:
    patient = add_patient(session)
    enroll(session, SCHEDULE, patient.id, "education", now=NOW, actor="s")
    enroll(session, SCHEDULE, patient.id, "booster", now=NOW, actor="s")
    return patient.id


def states(session: Session) -> list[tuple[str, datetime | None]]:
    rows = session.scalars(
        select(Enrollment).order_by(Enrollment.id).execution_options(populate_existing=True)
    )
    return [(str(e.state), e.paused_until) for e in rows]


def test_pausing_a_patient_pauses_every_active_enrollment_until_the_date(session: Session) -> None:
    patient_id = two_enrollments(session)
    until = NOW + timedelta(days=7)
    assert pause_patient(session, patient_id, reason="travel", now=NOW, actor="s", until=until)
    assert states(session) == [("paused", until), ("paused", until)]
    with pytest.raises(Conflict, match="has no active enrollment"):
        pause_patient(session, patient_id, reason="again", now=NOW, actor="s")
    assert resume_patient(session, SCHEDULE, patient_id, now=NOW, actor="s")
    assert states(session) == [("active", None), ("active", None)]


def test_a_pause_ending_in_the_past_is_refused(session: Session) -> None:
    patient_id = two_enrollments(session)
    with pytest.raises(InvalidInput, match=r"until: .* is not in the future"):
        pause_patient(session, patient_id, reason="x", now=NOW, actor="s", until=NOW)
    assert states(session) == [("active", None), ("active", None)]  # nothing half done


def test_a_pause_with_an_end_resumes_on_its_own_then(
    session: Session, sessions: sessionmaker[Session]
) -> None:
    patient_id = two_enrollments(session)
    first = session.scalars(select(Enrollment).order_by(Enrollment.id)).first()
    assert first is not None
    pause(session, first.id, reason="travel", now=NOW, actor="s", until=NOW + timedelta(days=3))
    clock = [NOW + timedelta(days=2)]
    ender = PauseEnder(sessions, SCHEDULE, clock=lambda: clock[0])
    assert ender() == 0
    clock[0] = NOW + timedelta(days=3, minutes=1)
    assert ender() == 1
    assert states(session)[0] == ("active", None)
    assert patient_id


def test_unenrolling_a_patient_cancels_every_open_enrollment(session: Session) -> None:
    patient_id = two_enrollments(session)
    done = unenroll_patient(session, patient_id, reason="moved away", now=NOW, actor="s")
    assert len(done) == 2
    assert {str(e) for e, _ in states(session)} == {"cancelled"}
    reasons = {m.reason for m in session.scalars(select(Message)) if m.state == "cancelled"}
    assert reasons == {"unenrolled: moved away"}


@pytest.fixture
def api(db_url: str, tmp_path: Path) -> Api:
    return build_api(db_url, tmp_path)


def test_staff_pause_all_of_a_patient_until_a_local_date_over_http(api: Api) -> None:
    patient = api.patient()
    for sequence in ("education", "booster"):
        answer = api.post(f"/patients/{patient['id']}/enrollments", json={"sequence": sequence})
        assert answer.status_code == 201, answer.text
    paused = api.post(
        f"/patients/{patient['id']}/enrollments/pause",
        json={"reason": "travelling", "until": "2027-04-01T09:00"},
    )
    assert paused.status_code == 200, paused.text
    assert [e["state"] for e in paused.json()] == ["paused", "paused"]
    shown = api.get(f"/patients/{patient['id']}/timeline").json()
    assert {e["paused_until"] for e in shown["enrollments"]} == {"2027-04-01T16:00:00Z"}
    pending = [m for m in shown["messages"] if m["state"] == "scheduled"]
    assert pending and all("paused until 2027-04-01 09:00 PDT" in m["outlook"] for m in pending)
    resumed = api.post(f"/patients/{patient['id']}/enrollments/resume")
    assert [e["state"] for e in resumed.json()] == ["active", "active"]
    gone = api.post(f"/patients/{patient['id']}/enrollments/unenroll", json={"reason": "done"})
    assert [e["state"] for e in gone.json()] == ["cancelled", "cancelled"]
    again = api.post(f"/patients/{patient['id']}/enrollments/resume")
    assert again.status_code == 409
