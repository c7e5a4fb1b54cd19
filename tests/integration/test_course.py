"""One course, one set of appointments: booked once, anchoring every sequence that uses them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from engage.enrollment import Slot, add_appointment, enroll, enroll_course, move_appointment
from engage.enrollment.dryrun import preview_cancel, preview_move
from engage.errors import Conflict
from engage.planning.planner import AnchorEvent
from engage.store import Appointment, Enrollment, Message
from tests.factories import NOW, add_patient, make_schedule

PRE_POST = make_schedule(
    {
        "pre": [
            {
                "id": "first-3d",
                "anchor": "infusion.start",
                "offset": "-3d",
                "at": "10:00",
                "template": "pre/first",
                "when": {"occurrence": "first"},
            },
            {
                "id": "later-3d",
                "anchor": "infusion.start",
                "offset": "-3d",
                "at": "10:00",
                "template": "pre/later",
                "when": {"occurrence": "later"},
            },
        ],
        "post": [
            {
                "id": "discharge",
                "anchor": "infusion.end",
                "template": "post/discharge",
                "critical": True,
            }
        ],
    }
)
INFUSIONS = [datetime(2027, 3, day, 15, 0, tzinfo=UTC) for day in (10, 17, 24)]


def count(session: Session, model: type[object]) -> int:
    return int(session.scalar(select(func.count()).select_from(model)) or 0)


def steps(session: Session, sequence: str) -> list[tuple[str, str]]:
    rows = session.scalars(select(Message).where(Message.sequence == sequence).order_by("due_at"))
    return [(m.step_id, m.event_key) for m in rows]


def test_a_course_of_two_sequences_books_its_three_infusions_once(session: Session) -> None:
    patient = add_patient(session)
    course = enroll_course(
        session,
        PRE_POST,
        patient.id,
        ["pre", "post"],
        [Slot(start) for start in INFUSIONS],
        now=NOW,
        actor="staff:1",
    )
    assert count(session, Appointment) == 3
    assert [e.sequence for e in course.enrollments] == ["pre", "post"]
    keys = [f"appointment:{a.id}" for a in course.appointments]
    assert steps(session, "pre") == [
        ("first-3d", keys[0]),
        ("later-3d", keys[1]),
        ("later-3d", keys[2]),
    ]
    assert steps(session, "post") == [("discharge", key) for key in keys]


def test_enrolling_in_post_after_pre_with_the_same_infusions_books_nothing_twice(
    session: Session,
) -> None:
    patient = add_patient(session)
    events = [AnchorEvent("infusion.start", start) for start in INFUSIONS]
    enroll(session, PRE_POST, patient.id, "pre", events, now=NOW, actor="staff:1")
    enroll(session, PRE_POST, patient.id, "post", events, now=NOW, actor="staff:1")
    assert count(session, Appointment) == 3
    # One first infusion, two later ones: not first-3d and later-3d on the same day.
    assert [step for step, _ in steps(session, "pre")] == ["first-3d", "later-3d", "later-3d"]
    assert len(steps(session, "post")) == 3


def test_an_appointment_overlapping_another_is_refused_naming_it(session: Session) -> None:
    patient = add_patient(session)
    first = add_appointment(session, PRE_POST, patient.id, INFUSIONS[0], now=NOW, actor="s")
    with pytest.raises(
        Conflict, match=rf"overlaps appointment {first.id} \(2027-03-10 10:00-10:45"
    ):
        add_appointment(
            session, PRE_POST, patient.id, INFUSIONS[0] + timedelta(minutes=30), now=NOW, actor="s"
        )
    with pytest.raises(Conflict, match=f"overlaps appointment {first.id}"):
        enroll_course(
            session,
            PRE_POST,
            patient.id,
            ["pre"],
            [Slot(INFUSIONS[0] - timedelta(minutes=15))],
            now=NOW,
            actor="s",
        )
    assert count(session, Appointment) == 1
    assert count(session, Enrollment) == 0


def test_moving_an_appointment_onto_another_is_refused(session: Session) -> None:
    patient = add_patient(session)
    first = add_appointment(session, PRE_POST, patient.id, INFUSIONS[0], now=NOW, actor="s")
    second = add_appointment(session, PRE_POST, patient.id, INFUSIONS[1], now=NOW, actor="s")
    with pytest.raises(Conflict, match=f"overlaps appointment {first.id}"):
        move_appointment(session, PRE_POST, second.id, INFUSIONS[0], now=NOW, actor="s")
    moved = move_appointment(
        session, PRE_POST, first.id, INFUSIONS[0] + timedelta(minutes=10), now=NOW, actor="s"
    )
    assert moved.starts_at == INFUSIONS[0] + timedelta(minutes=10)  # overlapping itself is fine


def test_a_move_preview_lists_each_message_from_when_to_when_and_stores_nothing(
    session: Session,
) -> None:
    patient = add_patient(session)
    course = enroll_course(
        session, PRE_POST, patient.id, ["pre", "post"], [Slot(INFUSIONS[0])], now=NOW, actor="s"
    )
    appointment = course.appointments[0]
    before = {m.id: m.due_at for m in session.scalars(select(Message))}
    later = INFUSIONS[0] + timedelta(days=2)
    changes = preview_move(session, PRE_POST, appointment.id, later, now=NOW)
    assert [(c.kind, c.step, c.due_before, c.due_after) for c in changes] == [
        (
            "moved",
            "first-3d",
            datetime(2027, 3, 7, 15, 0, tzinfo=UTC),
            datetime(2027, 3, 9, 15, 0, tzinfo=UTC),
        ),
        ("moved", "discharge", INFUSIONS[0] + timedelta(minutes=45), later + timedelta(minutes=45)),
    ]
    assert {m.id: m.due_at for m in session.scalars(select(Message))} == before
    assert session.get(Appointment, appointment.id).starts_at == INFUSIONS[0]  # type: ignore[union-attr]


def test_a_cancel_preview_lists_the_messages_it_would_cancel(session: Session) -> None:
    patient = add_patient(session)
    course = enroll_course(
        session, PRE_POST, patient.id, ["pre", "post"], [Slot(INFUSIONS[0])], now=NOW, actor="s"
    )
    changes = preview_cancel(session, PRE_POST, course.appointments[0].id, now=NOW)
    assert [(c.kind, c.step, c.state_after) for c in changes] == [
        ("cancelled", "first-3d", "cancelled"),
        ("cancelled", "discharge", "cancelled"),
    ]
    assert {m.state for m in session.scalars(select(Message))} == {"scheduled"}
