"""Provider events arrive in any order and any number of times; a message's provider status
only climbs, and its state ends where the furthest event puts it."""

from __future__ import annotations

import shutil
from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy.orm import Session, sessionmaker

from engage.inbound.delivery_events import RANK, TARGET, apply_status
from engage.store import Enrollment, Message, MessageState, Patient, make_engine, session_factory
from engage.store.message_states import transition

S = MessageState
NOW = datetime(2027, 3, 10, 16, tzinfo=UTC)
# What Twilio may send for one delivered message, and for one that the carrier refused.
DELIVERED = ["queued", "sending", "sent", "delivered", "read"]
REFUSED = ["queued", "sent", "undelivered"]


@pytest.fixture
def sessions(sqlite_template: Path, tmp_path: Path) -> sessionmaker[Session]:
    path = tmp_path / "engage.db"
    shutil.copy(sqlite_template, path)
    return session_factory(make_engine(f"sqlite:///{path}"))


def sent_message(session: Session, start: MessageState) -> Message:
    patient = Patient(first_name="A", last_name="B", timezone="UTC", locale="en")
    session.add(patient)
    session.flush()
    enrollment = Enrollment(patient_id=patient.id, sequence="care", enrolled_at=NOW)
    session.add(enrollment)
    session.flush()
    message = Message(
        patient_id=patient.id,
        enrollment_id=enrollment.id,
        sequence="care",
        step_id="note",
        channel="sms",
        template="note",
        due_at=NOW,
    )
    session.add(message)
    session.flush()
    for state in (S.QUEUED, S.SENDING, S.SENT):
        transition(session, message, state, "test", "worker", at=NOW)
        if state is start:
            break
    return message


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    flow=st.sampled_from([DELIVERED, REFUSED]).flatmap(
        lambda statuses: st.lists(st.sampled_from(statuses), min_size=1, max_size=8)
    ),
    start=st.sampled_from([S.SENDING, S.SENT]),
)
def test_status_only_climbs_whatever_the_order_or_repeats(
    sessions: sessionmaker[Session], flow: list[str], start: MessageState
) -> None:
    with sessions.begin() as session:
        message = sent_message(session, start)
        for status in flow:
            apply_status(session, message, status, provider="twilio", provider_id="SM1", now=NOW)
        assert RANK[message.provider_status or ""] == max(RANK[s] for s in flow)
        assert message.state == TARGET[message.provider_status or ""]
        assert message.provider_id == "SM1"


def test_a_late_sent_after_delivered_changes_nothing(sessions: sessionmaker[Session]) -> None:
    with sessions.begin() as session:
        message = sent_message(session, S.SENT)
        assert apply_status(
            session, message, "delivered", provider="twilio", provider_id="SM1", now=NOW
        )
        assert not apply_status(
            session, message, "sent", provider="twilio", provider_id="SM1", now=NOW
        )
        assert (message.state, message.provider_status) == (S.DELIVERED, "delivered")


def test_an_unknown_status_is_ignored(sessions: sessionmaker[Session]) -> None:
    with sessions.begin() as session:
        message = sent_message(session, S.SENT)
        assert not apply_status(
            session, message, "teleported", provider="twilio", provider_id="", now=NOW
        )
        assert message.state == S.SENT
