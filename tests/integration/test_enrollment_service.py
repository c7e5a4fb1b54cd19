"""The enrollment service keeps each patient's outbox in step with their plan."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from engage.enrollment import (
    add_appointment,
    cancel_appointment,
    complete_course,
    enroll,
    move_appointment,
    pause,
    resume,
    unenroll,
)
from engage.errors import Conflict, NotFound, PlanningError
from engage.planning.planner import AnchorEvent
from engage.store import (
    Appointment,
    AppointmentState,
    AuditLog,
    Enrollment,
    Message,
    MessageEvent,
    MessageState,
    transition,
)
from tests.factories import NOW, SCHEDULE, add_patient, mark_sent

FIRST = datetime(2027, 3, 10, 14, 0, tzinfo=UTC)  # 09:00 EST
SECOND = datetime(2027, 3, 17, 13, 0, tzinfo=UTC)  # 09:00 EDT, after the DST change


def utc(day: int, hour: int, minute: int = 0, month: int = 3, year: int = 2027) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


def messages(session: Session, **where: object) -> list[Message]:
    query = select(Message).filter_by(**where).order_by(Message.due_at, Message.id)
    return list(session.scalars(query))


def plan_of(session: Session, **where: object) -> list[tuple[str, str, str, datetime, str]]:
    return [
        (m.step_id, m.event_key, m.channel, m.due_at, m.state) for m in messages(session, **where)
    ]


def events_of(session: Session, message: Message) -> list[tuple[str | None, str, str]]:
    query = select(MessageEvent).where(MessageEvent.message_id == message.id)
    return [(e.from_state, e.to_state, e.reason) for e in session.scalars(query.order_by("id"))]


def enroll_in_infusions(session: Session, *starts: datetime, **patient: object) -> int:
    patient_row = add_patient(session, **patient)
    events = [AnchorEvent("infusion.start", start) for start in starts]
    enroll(session, SCHEDULE, patient_row.id, "infusion", events, now=NOW, actor="staff:7")
    return patient_row.id


def test_enrolling_stores_every_planned_step_with_a_creation_event(session: Session) -> None:
    patient = add_patient(session)
    enrollment = enroll(session, SCHEDULE, patient.id, "education", now=NOW, actor="staff:7")
    assert plan_of(session) == [
        ("welcome", "", "sms", NOW, "scheduled"),
        ("diary", "", "sms", utc(3, 15), "scheduled"),
    ]
    assert [(e.name, e.at) for e in enrollment.events] == [("enrolled", NOW)]
    first = messages(session)[0]
    assert events_of(session, first) == [(None, "scheduled", "planned")]
    audit = session.scalars(select(AuditLog).where(AuditLog.action == "enrollment.create")).one()
    assert (audit.actor, audit.entity_id) == ("staff:7", str(enrollment.id))


def test_an_infusion_start_books_an_appointment_of_the_clinic_length(session: Session) -> None:
    patient_id = enroll_in_infusions(session, FIRST)
    appointment = session.scalars(select(Appointment)).one()
    assert (appointment.patient_id, appointment.starts_at, appointment.ends_at) == (
        patient_id,
        FIRST,
        FIRST + timedelta(minutes=45),
    )
    assert plan_of(session) == [
        ("first-visit", "appointment:1", "sms", utc(7, 16), "scheduled"),
        ("prep", "appointment:1", "sms", utc(9, 15), "scheduled"),
        ("no-driving", "appointment:1", "sms", utc(10, 14, 45), "scheduled"),
    ]
    assert {m.appointment_id for m in messages(session)} == {appointment.id}


def test_without_an_open_channel_critical_steps_are_flagged_and_others_suppressed(
    session: Session,
) -> None:
    enroll_in_infusions(session, FIRST, sms=False)
    assert [(m.step_id, m.channel, m.state, m.reason) for m in messages(session)] == [
        ("first-visit", "sms", "suppressed", "no consented channel (step allows sms)"),
        ("prep", "email", "scheduled", "planned"),
        ("no-driving", "sms", "flagged", "staff must call: no consented channel (step allows sms)"),
    ]


def test_bad_enrollments_are_refused_and_write_nothing(session: Session) -> None:
    patient = add_patient(session)
    with pytest.raises(NotFound, match="patient 99 not found"):
        enroll(session, SCHEDULE, 99, "education", now=NOW, actor="staff")
    with pytest.raises(PlanningError, match="unknown sequence 'edukation'"):
        enroll(session, SCHEDULE, patient.id, "edukation", now=NOW, actor="staff")
    with pytest.raises(PlanningError, match=r"unknown event 'infusion\.begin'"):
        events = [AnchorEvent("infusion.begin", FIRST)]
        enroll(session, SCHEDULE, patient.id, "infusion", events, now=NOW, actor="staff")
    assert session.scalar(select(func.count()).select_from(Enrollment)) == 0
    enroll(session, SCHEDULE, patient.id, "education", now=NOW, actor="staff")
    with pytest.raises(Conflict, match="already enrolled in 'education'"):
        enroll(session, SCHEDULE, patient.id, "education", now=NOW, actor="staff")


def test_moving_an_appointment_moves_only_its_pending_messages(session: Session) -> None:
    enroll_in_infusions(session, FIRST, SECOND)
    prep = messages(session, step_id="prep", event_key="appointment:1")[0]
    mark_sent(session, prep)
    second_before = plan_of(session, event_key="appointment:2")
    ids_before = {m.step_id: m.id for m in messages(session, event_key="appointment:1")}

    move_appointment(session, SCHEDULE, 1, FIRST + timedelta(days=1), now=NOW, actor="staff")

    assert plan_of(session, event_key="appointment:1") == [
        ("first-visit", "appointment:1", "sms", utc(8, 16), "scheduled"),
        ("prep", "appointment:1", "sms", utc(9, 15), "sent"),
        ("no-driving", "appointment:1", "sms", utc(11, 14, 45), "scheduled"),
    ]
    moved = {m.step_id: m for m in messages(session, event_key="appointment:1")}
    assert {step: m.id for step, m in moved.items()} == ids_before
    assert events_of(session, moved["no-driving"])[-1] == (
        "scheduled",
        "scheduled",
        "appointment moved",
    )
    assert plan_of(session, event_key="appointment:2") == second_before


def test_moving_the_first_infusion_after_the_second_re_ranks_them(session: Session) -> None:
    enroll_in_infusions(session, FIRST, SECOND)
    move_appointment(session, SCHEDULE, 1, SECOND + timedelta(days=7), now=NOW, actor="staff")
    first_visits = {
        m.event_key: (m.state, m.reason) for m in messages(session, step_id="first-visit")
    }
    assert first_visits == {
        "appointment:1": ("cancelled", "appointment moved"),
        "appointment:2": ("scheduled", "appointment moved"),
    }


def test_cancelling_an_appointment_cancels_its_unsent_messages_only(session: Session) -> None:
    enroll_in_infusions(session, FIRST, SECOND)
    prep, no_driving = (
        messages(session, step_id=step, event_key="appointment:2")[0]
        for step in ("prep", "no-driving")
    )
    transition(session, prep, MessageState.QUEUED, "due", "dispatcher", at=NOW)
    session.commit()
    first_before = plan_of(session, event_key="appointment:1")

    cancel_appointment(session, SCHEDULE, 2, reason="patient called", now=NOW, actor="staff")

    assert {
        (m.step_id, m.state, m.reason) for m in messages(session, event_key="appointment:2")
    } == {
        ("prep", "cancelled", "patient called"),
        ("no-driving", "cancelled", "patient called"),
    }
    assert no_driving.id in {m.id for m in messages(session, state="cancelled")}
    assert plan_of(session, event_key="appointment:1") == first_before
    with pytest.raises(Conflict, match="appointment 2 is cancelled"):
        move_appointment(session, SCHEDULE, 2, SECOND, now=NOW, actor="staff")


def test_an_appointment_added_later_is_planned_in_open_enrollments(session: Session) -> None:
    patient_id = enroll_in_infusions(session)
    assert messages(session) == []
    add_appointment(session, SCHEDULE, patient_id, FIRST, now=NOW, actor="staff")
    assert [m.step_id for m in messages(session)] == ["first-visit", "prep", "no-driving"]


def test_unenrolling_cancels_pending_messages_with_the_reason(session: Session) -> None:
    patient = add_patient(session)
    enrollment = enroll(session, SCHEDULE, patient.id, "education", now=NOW, actor="staff")
    welcome, _ = messages(session)
    mark_sent(session, welcome)

    cancelled = unenroll(session, enrollment.id, reason="moved away", now=NOW, actor="staff")

    assert cancelled == 1
    assert [(m.step_id, m.state, m.reason) for m in messages(session)] == [
        ("welcome", "sent", "test"),
        ("diary", "cancelled", "unenrolled: moved away"),
    ]
    assert (enrollment.state, enrollment.reason) == ("cancelled", "moved away")


def test_resuming_re_plans_what_fell_due_while_paused(session: Session) -> None:
    patient = add_patient(session)
    enrollment = enroll(session, SCHEDULE, patient.id, "education", now=NOW, actor="staff")
    pause(session, enrollment.id, reason="in hospital", now=NOW, actor="staff")
    assert enrollment.state == "paused"
    later = NOW + timedelta(days=3)
    resume(session, SCHEDULE, enrollment.id, now=later, actor="staff")
    assert enrollment.state == "active"
    diary = messages(session, step_id="diary")[0]
    assert (diary.due_at, diary.state) == (later, "scheduled")
    # Its time passed during the pause: the row says so, beside what re-planned it.
    assert events_of(session, diary)[-1] == (
        "scheduled",
        "scheduled",
        "resumed; moved: its time (Wed 03 Mar, 10:00 EST) had passed, so it goes at once",
    )


def test_completing_the_course_enrolls_the_patient_in_the_booster(session: Session) -> None:
    patient = add_patient(session, preferred="email")
    done = utc(1, 18, month=4)
    booster = complete_course(session, SCHEDULE, patient.id, done, now=done, actor="staff")
    assert booster is not None and booster.sequence == "booster"
    assert patient.course_completed_at == done
    assert plan_of(session) == [
        ("booster-due", "", "email", utc(1, 15, month=1, year=2028), "scheduled")
    ]
    again = complete_course(session, SCHEDULE, patient.id, done, now=done, actor="staff")
    assert again is not None and again.id == booster.id
    assert len(messages(session)) == 1


def test_state_changes_that_make_no_sense_are_refused(session: Session) -> None:
    patient = add_patient(session)
    enrollment = enroll(session, SCHEDULE, patient.id, "education", now=NOW, actor="staff")
    with pytest.raises(Conflict, match="not paused"):
        resume(session, SCHEDULE, enrollment.id, now=NOW, actor="staff")
    unenroll(session, enrollment.id, reason="duplicate", now=NOW, actor="staff")
    with pytest.raises(Conflict, match="already cancelled"):
        unenroll(session, enrollment.id, reason="again", now=NOW, actor="staff")
    with pytest.raises(Conflict, match="is cancelled, not active"):
        pause(session, enrollment.id, reason="", now=NOW, actor="staff")
    with pytest.raises(NotFound, match="enrollment 99 not found"):
        pause(session, 99, reason="", now=NOW, actor="staff")


def test_every_write_is_audited_with_its_actor(session: Session) -> None:
    patient_id = enroll_in_infusions(session, FIRST)
    move_appointment(session, SCHEDULE, 1, SECOND, now=NOW, actor="staff:7")
    cancel_appointment(session, SCHEDULE, 1, now=NOW, actor="staff:8")
    complete_course(session, SCHEDULE, patient_id, SECOND, now=NOW, actor="staff:9")
    audits = session.scalars(select(AuditLog).order_by(AuditLog.id))
    assert [(a.actor, a.action, a.entity_id) for a in audits] == [
        ("staff:7", "appointment.create", "1"),
        ("staff:7", "enrollment.create", "1"),
        ("staff:7", "appointment.move", "1"),
        ("staff:8", "appointment.cancel", "1"),
        ("staff:9", "enrollment.create", "2"),
        ("staff:9", "patient.course-completed", str(patient_id)),
    ]


def test_moving_a_confirmed_appointment_asks_for_confirmation_again(session: Session) -> None:
    enroll_in_infusions(session, FIRST)
    appointment = session.get_one(Appointment, 1)
    appointment.state, appointment.confirmed_at = AppointmentState.CONFIRMED, NOW
    session.commit()
    move_appointment(session, SCHEDULE, 1, SECOND, now=NOW, actor="staff")
    assert (appointment.state, appointment.confirmed_at) == ("scheduled", None)
