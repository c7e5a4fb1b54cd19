"""The feed's set-wise SIU path writes exactly the rows the ORM services write.

Two patients get the same SIU script, one through the set-wise path (the default), one through
the services only (`Intake(set_wise=False)`); every row either wrote — appointments, enrollment
events, messages, their events, audit entries, journal outcomes — is compared with the ids
replaced by what they stand for (the n-th appointment, the sequence). Scripts: the bench's
(book, moves, cancels, a second and third infusion), and seeded random ones over three
appointments (moves that change which infusion is first, overlaps, no-shows, resends), with
some messages already claimed (`queued`) or sent between messages, as a dispatcher would.
"""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session

from engage.hl7.intake import Intake
from engage.store import Appointment, Enrollment, Message, MessageState
from engage.store.audit import AuditLog
from engage.store.enrollments import EnrollmentEvent
from engage.store.hl7 import Hl7Message
from engage.store.message_states import move_many
from engage.store.messages import MessageEvent
from tests.factories import NOW, add_patient
from tests.hl7_kit import clinic_schedule, siu

STARTED = datetime.now(UTC) - timedelta(minutes=1)
FAST, SLOW = "200001", "200002"  # PID-3 of the patient on each path
Step = tuple[str, str, int, int]  # (event, filler letter, start day after NOW, start hour)
BENCH: list[Step] = [
    ("S12", "A", 10, 9),
    ("S14", "A", 11, 9),
    ("S14", "A", 12, 9),
    ("S12", "B", 24, 9),
    ("S14", "B", 25, 9),
    ("S15", "A", 12, 9),
    ("S14", "B", 26, 9),
    ("S12", "C", 38, 9),
    ("S14", "C", 39, 9),
    ("S15", "C", 39, 9),
]


def _random_script(seed: int) -> list[Step]:
    rng = random.Random(seed)
    events = ["S12", "S12", "S13", "S14", "S14", "S15", "S26", "S17"]
    # Days close together: moves overtake each other (ranks change) and sometimes overlap.
    return [
        (rng.choice(events), rng.choice("ABC"), rng.randint(2, 9), rng.choice([9, 10, 14]))
        for _ in range(14)
    ]


def _send(intake: Intake, patient: str, script: list[Step], engine: sa.Engine) -> list[str]:
    codes = []
    for n, (event, letter, day, hour) in enumerate(script):
        start = (NOW + timedelta(days=day)).replace(hour=hour, minute=0)
        sent = (NOW - timedelta(hours=1) + timedelta(seconds=n)).strftime("%Y%m%d%H%M%S")
        message = siu(
            event,
            f"{patient}-{n}",
            start.strftime("%Y%m%d%H%M%S+0000"),
            sent=sent,
            filler=f"{patient}{letter}",
            patient=patient,
        )
        codes.append(intake.handle(message).code)
        if n % 4 == 3:
            codes.append(intake.handle(message).code)  # a resend: answered, applied once
        if n % 3 == 2:
            _dispatch(engine, patient)
    return codes


def _dispatch(engine: sa.Engine, patient: str) -> None:
    """As a dispatcher would between messages: the soonest scheduled message claimed, the next
    one sent (a re-plan leaves both where they are; a cancellation withdraws the claimed one)."""
    with Session(engine) as session:
        pid = session.scalar(sa.select(_patient(patient)))
        ids = list(
            session.scalars(
                sa.select(Message.id)
                .where(Message.patient_id == pid, Message.state == MessageState.SCHEDULED)
                .order_by(
                    Message.due_at, Message.step_id, Message.appointment_id, Message.event_key
                )
                .limit(2)
            )
        )
        S = MessageState
        move_many(session, ids[:1], S.SCHEDULED, S.QUEUED, "claimed", "dispatcher", NOW)
        for before, after in ((S.SCHEDULED, S.QUEUED), (S.QUEUED, S.SENDING), (S.SENDING, S.SENT)):
            move_many(session, ids[1:], before, after, "sent", "worker", NOW)
        session.commit()


def _patient(ref: str) -> sa.ScalarSelect[int]:
    from engage.store import Patient

    return sa.select(Patient.id).where(Patient.external_ref == f"BAYVIEW:{ref}").scalar_subquery()


def _rows(engine: sa.Engine, ref: str) -> dict[str, Any]:
    """Everything stored for the patient, ids replaced by what they name."""
    from engage.store import Patient

    with Session(engine) as session:
        pid = session.scalar(sa.select(Patient.id).where(Patient.external_ref == f"BAYVIEW:{ref}"))
        appointments = list(
            session.scalars(
                sa.select(Appointment).where(Appointment.patient_id == pid).order_by(Appointment.id)
            )
        )
        rank = {a.id: n for n, a in enumerate(appointments, 1)}
        enrollments = {
            e.id: e.sequence
            for e in session.scalars(sa.select(Enrollment).where(Enrollment.patient_id == pid))
        }

        def key(text: str) -> str:
            kind, _, rest = text.partition(":")
            head, _, tail = rest.partition(":")
            if kind != "appointment" or not head.isdigit():
                return text
            return f"appointment:#{rank[int(head)]}" + (f":{tail}" if tail else "")

        def when(moment: datetime | None) -> object:
            # The services' ORM leaves out a column set to the value it had (the fixed test
            # clock's NOW again) and its onupdate writes the wall clock instead: both mean "now".
            return "now" if moment is not None and (moment == NOW or moment >= STARTED) else moment

        messages = list(session.scalars(sa.select(Message).where(Message.patient_id == pid)))
        events_of: dict[int, list[tuple[Any, ...]]] = {m.id: [] for m in messages}
        for e in session.scalars(
            sa.select(MessageEvent).where(MessageEvent.message_id.in_(list(events_of)))
        ):
            events_of[e.message_id].append(
                (e.at, e.from_state, e.to_state, e.reason, e.actor, e.due_from, e.due_to)
            )
        message_rows = sorted(
            (
                enrollments[m.enrollment_id],
                m.step_id,
                key(m.event_key),
                rank.get(m.appointment_id or 0),
                m.occurrence,
                m.channel,
                m.template,
                m.critical,
                m.due_at,
                str(m.state),
                m.reason,
                m.attempts,
                m.created_at,
                when(m.updated_at),
                m.queued_at,
                m.sent_at,
                tuple(sorted(events_of[m.id], key=repr)),
            )
            for m in messages
        )
        enrollment_events = sorted(
            (enrollments[e.enrollment_id], e.name, e.at, key(e.key), e.occurrence, e.cancelled)
            for e in session.scalars(
                sa.select(EnrollmentEvent).where(EnrollmentEvent.enrollment_id.in_(enrollments))
            )
        )
        audits = [
            (
                a.action,
                a.entity,
                rank.get(int(a.entity_id))
                if a.entity == "appointment"
                else enrollments.get(int(a.entity_id)),
                a.before,
                a.after,
                a.at,
                a.actor,
            )
            for a in session.scalars(
                sa.select(AuditLog).where(
                    sa.or_(
                        sa.and_(
                            AuditLog.entity == "appointment",
                            AuditLog.entity_id.in_([str(i) for i in rank]),
                        ),
                        sa.and_(
                            AuditLog.entity == "enrollment",
                            AuditLog.entity_id.in_([str(i) for i in enrollments]),
                        ),
                    )
                )
            )
        ]
        for row in audits:  # the patient's own id is the one difference the audit may show
            for values in (row[3], row[4]):
                if values and "patient_id" in values:
                    values["patient_id"] = "patient"
        audits.sort(key=repr)
        journal = sorted(
            (j.control_id.split("-", 1)[1], j.message_type, str(j.state), j.ack_code, j.reason)
            for j in session.scalars(
                sa.select(Hl7Message).where(Hl7Message.control_id.like(f"{ref}-%"))
            )
        )
        return {
            "appointments": [
                (
                    a.starts_at,
                    a.ends_at,
                    a.location,
                    str(a.state),
                    a.confirmed_at,
                    when(a.updated_at),
                )
                for a in appointments
            ],
            "enrollment_events": enrollment_events,
            "messages": message_rows,
            "audits": audits,
            "journal": [(n, t, s, c, _ids_out(r, rank_of=rank)) for n, t, s, c, r in journal],
        }


def _ids_out(reason: str, rank_of: dict[int, int]) -> str:
    """`appointment 12 moved` -> `appointment #2 moved` (the journal's reason names ids)."""
    words = reason.split()
    for n, word in enumerate(words[:-1]):
        if word == "appointment" and words[n + 1].rstrip(":").isdigit():
            number = int(words[n + 1].rstrip(":"))
            words[n + 1] = words[n + 1].replace(str(number), f"#{rank_of.get(number, '?')}")
        if word == "patient" and words[n + 1].isdigit():
            words[n + 1] = "#"
    return " ".join(words)


@pytest.mark.parametrize(
    "script", [BENCH, *(_random_script(seed) for seed in range(6))], ids=["bench", *"012345"]
)
def test_the_set_wise_path_writes_the_rows_the_services_write(
    engine: sa.Engine, script: list[Step]
) -> None:
    with Session(engine) as session:
        for ref in (FAST, SLOW):
            add_patient(session, external_ref=f"BAYVIEW:{ref}", timezone="America/Los_Angeles")
    schedule = clinic_schedule()
    fast = _send(Intake(engine, schedule, clock=lambda: NOW), FAST, script, engine)
    slow = _send(Intake(engine, schedule, clock=lambda: NOW, set_wise=False), SLOW, script, engine)
    assert fast == slow
    mine, theirs = _rows(engine, FAST), _rows(engine, SLOW)
    assert mine["messages"], "the script planned no message: it proves nothing"
    for table in mine:
        extra = [row for row in mine[table] if row not in theirs[table]]
        missing = [row for row in theirs[table] if row not in mine[table]]
        assert (extra, missing) == ([], []), f"{table}: {extra} != {missing}"
