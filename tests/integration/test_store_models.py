"""The store's own rules: UTC instants, consent order, transitions with events, one row per plan."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from sqlalchemy import select, text
from sqlalchemy.exc import IntegrityError, StatementError
from sqlalchemy.orm import Session

from engage.errors import Conflict
from engage.store import Enrollment, Message, MessageEvent, MessageState, consented_channels
from engage.store.message_states import reschedule, transition
from tests.factories import NOW, add_patient


def add_message(session: Session, **fields: object) -> Message:
    patient = add_patient(session)
    enrollment = Enrollment(patient_id=patient.id, sequence="education", enrolled_at=NOW)
    session.add(enrollment)
    session.flush()
    values: dict[str, object] = {
        "patient_id": patient.id,
        "enrollment_id": enrollment.id,
        "sequence": "education",
        "step_id": "welcome",
        "event_key": "",
        "channel": "sms",
        "template": "education/welcome",
        "due_at": NOW,
    } | fields
    message = Message(**values)
    session.add(message)
    session.commit()
    return message


def test_instants_come_back_aware_in_utc_whatever_zone_went_in(session: Session) -> None:
    tokyo = timezone(timedelta(hours=9))
    message = add_message(session, due_at=datetime(2027, 3, 2, 9, 0, tzinfo=tokyo))
    session.expire_all()
    stored = session.get(Message, message.id)
    assert stored is not None
    assert stored.due_at == datetime(2027, 3, 2, 0, 0, tzinfo=UTC)
    assert stored.due_at.tzinfo == UTC


def test_a_naive_datetime_is_refused(session: Session) -> None:
    with pytest.raises(StatementError, match="naive datetime"):
        add_message(session, due_at=datetime(2027, 3, 2, 9, 0))


def test_consented_channels_put_the_preferred_channel_first(session: Session) -> None:
    patient = add_patient(session, preferred="email")
    assert consented_channels(patient) == ("email", "sms")


def test_a_channel_without_consent_or_without_an_address_is_closed(session: Session) -> None:
    no_sms = add_patient(session, sms=False)
    no_email = add_patient(session, phone="+14155550101", email=None, email_consent=True)
    assert consented_channels(no_sms) == ("email",)
    assert consented_channels(no_email) == ("sms",)


def test_each_transition_writes_an_event_and_stamps_its_time(session: Session) -> None:
    message = add_message(session)
    later = NOW + timedelta(minutes=5)
    transition(session, message, MessageState.QUEUED, "due", "dispatcher", at=later)
    session.commit()
    assert (message.state, message.queued_at, message.reason) == ("queued", later, "due")
    events = session.scalars(select(MessageEvent).where(MessageEvent.message_id == message.id))
    assert [(e.from_state, e.to_state, e.reason, e.actor, e.at) for e in events] == [
        ("scheduled", "queued", "due", "dispatcher", later)
    ]


def test_a_transition_the_state_machine_forbids_changes_nothing(session: Session) -> None:
    message = add_message(session, state=MessageState.CANCELLED)
    with pytest.raises(Conflict, match="cannot go from cancelled to queued"):
        transition(session, message, MessageState.QUEUED, "due", "dispatcher")
    assert message.state == MessageState.CANCELLED
    assert session.scalars(select(MessageEvent)).all() == []


def test_rescheduling_keeps_the_id_and_records_why(session: Session) -> None:
    message = add_message(session)
    reschedule(session, message, NOW + timedelta(days=1), "appointment moved", "staff", at=NOW)
    session.commit()
    event = session.scalars(select(MessageEvent)).one()
    assert (event.message_id, event.from_state, event.to_state, event.reason) == (
        message.id,
        "scheduled",
        "scheduled",
        "appointment moved",
    )


def test_the_same_plan_cannot_be_stored_twice(session: Session) -> None:
    message = add_message(session)
    session.add(
        Message(
            patient_id=message.patient_id,
            enrollment_id=message.enrollment_id,
            sequence="education",
            step_id="welcome",
            event_key="",
            channel="email",
            template="education/welcome",
            due_at=NOW,
        )
    )
    with pytest.raises(IntegrityError):
        session.commit()


def test_the_database_refuses_an_unknown_state(session: Session) -> None:
    message = add_message(session)
    with pytest.raises(IntegrityError):
        session.execute(
            text("UPDATE message SET state = 'lost' WHERE id = :id"), {"id": message.id}
        )
