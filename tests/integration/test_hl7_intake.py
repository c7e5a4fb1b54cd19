"""The feed's service on SQLite and PostgreSQL: what each message does to patients, appointments
and their planned messages, exactly once; and a property over random SIU orderings."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta

import psycopg
import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy.orm import Session

from engage.hl7.intake import Intake, reapply
from engage.schedule.hl7 import Hl7Consent
from engage.store import Appointment, AppointmentState, Enrollment, Message, MessageState, Patient
from engage.store.hl7 import Hl7Appointment, Hl7Message, Hl7State
from tests.factories import NOW, add_patient
from tests.hl7_kit import REF, clinic_schedule, fixture, siu

COURSE = {"education", "pre-infusion", "post-infusion"}


def intake(engine: sa.Engine) -> Intake:
    return Intake(engine, clinic_schedule(), clock=lambda: NOW)


def consenting_patient(engine: sa.Engine, ref: str = REF) -> int:
    with Session(engine) as session:
        return add_patient(session, external_ref=ref, timezone="America/Los_Angeles").id


def scheduled(engine: sa.Engine, appointment_id: int) -> list[Message]:
    """The appointment's scheduled reminders (not the notice telling the patient of a change)."""
    with Session(engine) as session:
        query = sa.select(Message).where(
            Message.appointment_id == appointment_id,
            Message.state == MessageState.SCHEDULED,
            Message.event_key == f"appointment:{appointment_id}",
        )
        return list(session.scalars(query))


def the_appointment(engine: sa.Engine) -> Appointment:
    with Session(engine) as session:
        return session.scalars(sa.select(Appointment)).one()


def test_first_booking_books_once_and_enrolls_in_the_course(engine: sa.Engine) -> None:
    patient_id = consenting_patient(engine)
    reply = intake(engine).handle(fixture("siu_s12"))
    assert reply.code == "AA"
    appointment = the_appointment(engine)
    assert appointment.starts_at == datetime(2027, 3, 10, 17, 0, tzinfo=UTC)
    with Session(engine) as session:
        sequences = set(
            session.scalars(
                sa.select(Enrollment.sequence).where(Enrollment.patient_id == patient_id)
            )
        )
    assert sequences == COURSE
    assert scheduled(engine, appointment.id), "the booking planned the infusion's messages"


def test_a_first_booking_writes_the_course_with_one_insert_per_table(
    engine: sa.Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The course's three enrollments are inserted together, then planned: their messages,
    message events and audit rows go out in one INSERT (or COPY) per table (25 statements when
    each enrollment was flushed and planned on its own, 15 through the ORM services, 13 now:
    the set-wise path plans the first booking as bulk enrollment does)."""
    consenting_patient(engine)
    feed = intake(engine)
    statements: list[str] = []

    def record(_conn: object, _cursor: object, statement: str, *_rest: object) -> None:
        statements.append(statement.split("(")[0].strip())

    copy = psycopg.Cursor.copy

    def copied(cursor: psycopg.Cursor[object], statement: str, *args: object, **kw: object):  # type: ignore[no-untyped-def]
        statements.append(statement.split("(")[0].replace("COPY", "INSERT INTO").strip())
        return copy(cursor, statement, *args, **kw)  # type: ignore[arg-type]

    monkeypatch.setattr(psycopg.Cursor, "copy", copied)
    sa.event.listen(engine, "before_cursor_execute", record)
    try:
        assert feed.handle(fixture("siu_s12")).code == "AA"
    finally:
        sa.event.remove(engine, "before_cursor_execute", record)
    if engine.dialect.name != "postgresql":
        return  # SQLite's driver inserts rows whose ids are returned one at a time
    statements = [s.replace('"', "") for s in statements]
    for table in ("enrollment", "enrollment_event", "message", "message_event"):
        assert statements.count(f"INSERT INTO {table}") == 1, (table, statements)
    assert len(statements) <= 16, statements


def test_reschedule_moves_the_planned_messages(engine: sa.Engine) -> None:
    consenting_patient(engine)
    feed = intake(engine)
    feed.handle(fixture("siu_s12"))
    before = {m.id: m.due_at for m in scheduled(engine, the_appointment(engine).id)}
    assert feed.handle(fixture("siu_s14")).code == "AA"
    appointment = the_appointment(engine)
    assert appointment.starts_at == datetime(2027, 3, 12, 22, 0, tzinfo=UTC)  # 14:00 PST
    after = {m.id: m.due_at for m in scheduled(engine, appointment.id)}
    assert after.keys() == before.keys(), "same messages, new due times"
    assert all(after[i] > before[i] for i in after), "each moved later with the appointment"


def test_cancel_cancels_the_unsent_messages(engine: sa.Engine) -> None:
    consenting_patient(engine)
    feed = intake(engine)
    feed.handle(fixture("siu_s12"))
    assert feed.handle(fixture("siu_s15")).code == "AA"
    appointment = the_appointment(engine)
    assert appointment.state == AppointmentState.CANCELLED
    assert scheduled(engine, appointment.id) == []


def test_a_duplicate_control_id_changes_nothing(engine: sa.Engine) -> None:
    consenting_patient(engine)
    feed = intake(engine)
    first = feed.handle(fixture("siu_s12"))
    with Session(engine) as session:
        counts = session.scalar(sa.select(sa.func.count()).select_from(Message))
    again = feed.handle(fixture("siu_s12"))
    assert (first.code, again.code, again.duplicate) == ("AA", "AA", True)
    with Session(engine) as session:
        assert session.scalar(sa.select(sa.func.count()).select_from(Message)) == counts
        assert session.scalar(sa.select(sa.func.count()).select_from(Appointment)) == 1
        assert session.scalar(sa.select(sa.func.count()).select_from(Hl7Message)) == 1


def test_an_older_reschedule_is_recorded_not_applied(engine: sa.Engine) -> None:
    consenting_patient(engine)
    feed = intake(engine)
    feed.handle(siu("S12", "C1", "20270310090000", sent="20270301080000"))
    feed.handle(siu("S14", "C3", "20270320090000", sent="20270303080000"))
    late = feed.handle(siu("S14", "C2", "20270315090000", sent="20270302080000"))
    assert late.code == "AA"
    assert the_appointment(engine).starts_at == datetime(2027, 3, 20, 16, 0, tzinfo=UTC)
    with Session(engine) as session:
        row = session.scalars(sa.select(Hl7Message).where(Hl7Message.control_id == "C2")).one()
    assert row.state == Hl7State.STALE


def test_a_completed_infusion_is_not_rebooked_by_a_later_change(engine: sa.Engine) -> None:
    consenting_patient(engine)
    feed = intake(engine)
    feed.handle(siu("S12", "E1", "20270310090000", sent="20270301080000"))
    with Session(engine) as session:
        session.scalars(sa.select(Appointment)).one().state = AppointmentState.COMPLETED
        session.commit()
    assert feed.handle(siu("S14", "E2", "20270312090000", sent="20270311080000")).code == "AA"
    assert the_appointment(engine).state == AppointmentState.COMPLETED  # still one, untouched
    with Session(engine) as session:
        row = session.scalars(sa.select(Hl7Message).where(Hl7Message.control_id == "E2")).one()
    assert row.state == Hl7State.IGNORED


def test_a_booking_at_a_skipped_local_time_starts_when_the_gap_ends(engine: sa.Engine) -> None:
    consenting_patient(engine)
    assert intake(engine).handle(siu("S12", "D1", "20270314023000")).code == "AA"
    assert the_appointment(engine).starts_at == datetime(
        2027, 3, 14, 10, 0, tzinfo=UTC
    )  # 03:00 PDT


def test_unknown_patient_is_an_ae_dead_letter_that_reapplies_once_fixed(engine: sa.Engine) -> None:
    feed = intake(engine)
    reply = feed.handle(fixture("siu_s12"))
    assert reply.code == "AE" and "ERR|" in reply.ack
    with Session(engine) as session:
        row = session.scalars(sa.select(Hl7Message)).one()
        assert (row.state, row.error_field) == (Hl7State.FAILED, "PID-3")
        assert session.scalar(sa.select(sa.func.count()).select_from(Appointment)) == 0
    consenting_patient(engine)  # the cause, fixed
    fixed = reapply(feed, row.id, "test")
    assert fixed.state == Hl7State.APPLIED and fixed.attempts == 2
    assert the_appointment(engine).state == AppointmentState.SCHEDULED


def test_unmapped_appointment_types_are_acknowledged_and_ignored(engine: sa.Engine) -> None:
    reply = intake(engine).handle(siu("S12", "U1", "20270310090000", kind="DENTAL"))
    assert reply.code == "AA"
    with Session(engine) as session:
        assert session.scalars(sa.select(Hl7Message.state)).one() == Hl7State.IGNORED


def test_garbage_is_rejected_and_nothing_is_stored(engine: sa.Engine) -> None:
    assert intake(engine).handle(b"\x00\x01 not hl7 at all").code == "AR"
    with Session(engine) as session:
        assert session.scalar(sa.select(sa.func.count()).select_from(Hl7Message)) == 0


def test_adt_registers_and_updates_without_granting_consent(engine: sa.Engine) -> None:
    feed = intake(engine)
    assert feed.handle(fixture("adt_a04")).code == "AA"
    assert feed.handle(fixture("adt_a08")).code == "AA"
    with Session(engine) as session:
        patient = session.scalars(sa.select(Patient)).one()
        assert patient.external_ref == REF
        assert (patient.phone, patient.email, patient.locale) == (
            "+14155550112",
            "ana.rivera@example.org",
            "en",
        )
        assert patient.consents == []


def test_adt_never_reopens_an_opt_out(engine: sa.Engine) -> None:
    with Session(engine) as session:
        add_patient(
            session,
            external_ref=REF,
            sms=False,
            phone="+14155550111",
            first_name="ANA",
            last_name="RIVERA",
        )
    assert intake(engine).handle(fixture("adt_a08")).code == "AA"
    with Session(engine) as session:
        patient = session.scalars(sa.select(Patient)).one()
        assert patient.consent("sms") is not None and patient.consent("sms").granted is False


def test_adt_registers_a_family_member_on_a_shared_phone(engine: sa.Engine) -> None:
    """Issue 12's rule, as the API and console apply it: another name on the phone is a family."""
    with Session(engine) as session:
        luis = add_patient(
            session, phone="+14155550111", email=None, first_name="Luis", last_name="Rivera"
        ).id
    assert intake(engine).handle(fixture("adt_a04")).code == "AA"
    with Session(engine) as session:
        ana = session.scalars(sa.select(Patient).where(Patient.external_ref == REF)).one()
        assert ana.id != luis and ana.phone == "+14155550111"
        assert session.get(Patient, luis).first_name == "Luis", "the family member is untouched"


def test_adt_with_the_same_name_on_the_same_phone_is_a_conflict_for_staff(
    engine: sa.Engine,
) -> None:
    with Session(engine) as session:
        add_patient(
            session,
            external_ref="BAYVIEW:555",
            phone="+14155550111",
            email=None,
            first_name="Ana",
            last_name="Rivera",
        )
    reply = intake(engine).handle(fixture("adt_a04"))
    assert reply.code == "AE" and "PID^1^13" in reply.ack
    with Session(engine) as session:
        assert session.scalar(sa.select(sa.func.count()).select_from(Patient)) == 1
        dead = session.scalars(sa.select(Hl7Message)).one()
        assert (dead.state, dead.error_field) == (Hl7State.FAILED, "PID-13")


def test_adt_without_phone_or_email_is_refused_as_the_api_refuses_it(engine: sa.Engine) -> None:
    message = fixture("adt_a04").replace(
        b"^PRN^CP^^1^415^5550111~^NET^Internet^ana.rivera@example.org", b""
    )
    reply = intake(engine).handle(message)
    assert reply.code == "AE" and "PID^1^13" in reply.ack
    with Session(engine) as session:
        assert session.scalar(sa.select(sa.func.count()).select_from(Patient)) == 0


def test_adt_adopts_the_staff_entered_patient_of_its_name_among_a_family(
    engine: sa.Engine,
) -> None:
    with Session(engine) as session:
        add_patient(session, phone="+14155550111", email=None, first_name="Luis", last_name="R")
        ana = add_patient(
            session, phone="+14155550111", email=None, first_name="ana", last_name="RIVERA"
        ).id
    assert intake(engine).handle(fixture("adt_a04")).code == "AA"
    with Session(engine) as session:
        assert session.scalar(sa.select(sa.func.count()).select_from(Patient)) == 2
        assert session.get(Patient, ana).external_ref == REF


def test_a40_moves_the_identity_to_the_surviving_identifier(engine: sa.Engine) -> None:
    feed = intake(engine)
    feed.handle(fixture("adt_a04"))
    assert feed.handle(fixture("adt_a40")).code == "AA"
    with Session(engine) as session:
        assert session.scalars(sa.select(Patient.external_ref)).one() == "BAYVIEW:100999"


_fillers = itertools.count()
EVENTS = st.sampled_from(["S12", "S13", "S14", "S15", "S17"])


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    st.lists(st.tuples(EVENTS, st.integers(1, 30)), min_size=1, max_size=7),
    st.randoms(use_true_random=False),
)
def test_final_state_is_the_last_message_by_filler_time(
    engine: sa.Engine, ops: list[tuple[str, int]], random: object
) -> None:
    n = next(_fillers)
    filler, number = f"P{n}", f"9{n:05d}"  # a patient per example: its appointments only
    with Session(engine) as session:
        add_patient(
            session, external_ref=f"BAYVIEW:{number}", phone=None, email=f"p{n}@example.org"
        )
    sent = [NOW - timedelta(hours=len(ops) - i) for i in range(len(ops))]  # ops[i] sent i-th
    messages = [
        siu(
            event,
            f"{filler}-{i}",
            f"202704{day:02d}100000",
            sent=sent[i].strftime("%Y%m%d%H%M%S+0000"),
            filler=filler,
            patient=number,
        )
        for i, (event, day) in enumerate(ops)
    ]
    arrival = list(range(len(ops)))
    random.shuffle(arrival)  # type: ignore[attr-defined]
    repeated = arrival + arrival[: len(arrival) // 2]  # and some resent
    feed = intake(engine)
    for i in repeated:
        reply = feed.handle(messages[i])
        assert reply.code == "AA", reply.ack
    last_event, last_day = ops[-1]
    with Session(engine) as session:
        link = session.scalars(
            sa.select(Hl7Appointment).where(Hl7Appointment.filler_id == f"{filler}^EPIC")
        ).one()
        appointment = session.get(Appointment, link.appointment_id) if link.appointment_id else None
    if last_event in ("S15", "S17"):
        assert link.status == "cancelled"
        assert appointment is None or appointment.state == AppointmentState.CANCELLED
    else:
        assert link.status == "booked"
        assert appointment is not None and appointment.state == AppointmentState.SCHEDULED
        assert appointment.starts_at == datetime(2027, 4, last_day, 17, 0, tzinfo=UTC)  # 10:00 PDT


def _consenting_feed(engine: sa.Engine) -> Intake:
    schedule = clinic_schedule()
    feed = schedule.hl7.model_copy(
        update={"consent": {"sms": Hl7Consent(field="ZPD-2", values=("Y",))}}
    )
    return Intake(engine, schedule.model_copy(update={"hl7": feed}), clock=lambda: NOW)


def test_a_configured_consent_field_records_consent_on_a_new_channel(engine: sa.Engine) -> None:
    message = fixture("adt_a04") + b"ZPD|1|Y\r"
    assert _consenting_feed(engine).handle(message).code == "AA"
    with Session(engine) as session:
        patient = session.scalars(sa.select(Patient)).one()
        sms = patient.consent("sms")
        assert sms is not None and (sms.granted, sms.source) == (True, "hl7")
        assert patient.consent("email") is None  # not configured: never granted


def test_a_configured_consent_field_never_reopens_an_opt_out(engine: sa.Engine) -> None:
    with Session(engine) as session:
        add_patient(
            session,
            external_ref=REF,
            sms=False,
            phone="+14155550111",
            first_name="ANA",
            last_name="RIVERA",
        )
    message = fixture("adt_a04") + b"ZPD|1|Y\r"
    assert _consenting_feed(engine).handle(message).code == "AA"
    with Session(engine) as session:
        sms = session.scalars(sa.select(Patient)).one().consent("sms")
        assert sms is not None and sms.granted is False


def test_a_move_reads_the_course_once_and_keeps_every_enrollment_current(
    engine: sa.Engine,
) -> None:
    """The three enrollments of the course follow a move from one read of the appointments and
    one locking read of their messages (education, with no appointment step, re-plans nothing
    yet still records the new time): a regression to one read per enrollment fails here."""
    consenting_patient(engine)
    feed = intake(engine)
    feed.handle(fixture("siu_s12"))
    statements: list[str] = []

    def record(_conn: object, _cursor: object, statement: str, *_rest: object) -> None:
        statements.append(" ".join(statement.split()))

    sa.event.listen(engine, "before_cursor_execute", record)
    try:
        assert feed.handle(fixture("siu_s14")).code == "AA"
    finally:
        sa.event.remove(engine, "before_cursor_execute", record)
    appointment = the_appointment(engine)
    ranked = [s for s in statements if s.startswith("SELECT appointment.id") and "ORDER BY" in s]
    assert len(ranked) == 1, "one read for the overlap check and the ranking (2 before)"
    locking = [s for s in statements if s.startswith("SELECT message.id") and "FOR UPDATE" in s]
    assert len(locking) <= 1, "reminders and the earlier notice in one read (3 reads before)"
    reminders = [
        s for s in statements if s.startswith("SELECT message.id") and "enrollment_id IN" in s
    ]
    assert reminders, "the re-plan's read of the enrollments' messages"
    assert all("message.event_key IN" in s for s in reminders), "only the moved one's messages"
    assert len(statements) <= 19, "33 when each enrollment read its own, 24 before"
    with Session(engine) as session:
        for enrollment in session.scalars(sa.select(Enrollment)):
            starts = [e.at for e in enrollment.events if e.name == "infusion.start"]
            assert starts == [appointment.starts_at], enrollment.sequence


def test_the_journal_row_is_one_insert_with_its_outcome(engine: sa.Engine) -> None:
    """Stored last, with its state and reason: no UPDATE of the row it has just inserted (one
    statement per message less); the appointment's link points at it all the same."""
    consenting_patient(engine)
    feed = intake(engine)
    feed.handle(fixture("siu_s12"))
    statements: list[str] = []

    def record(_conn: object, _cursor: object, statement: str, *_rest: object) -> None:
        statements.append(statement.split("(")[0].strip())

    sa.event.listen(engine, "before_cursor_execute", record)
    try:
        assert feed.handle(fixture("siu_s14")).code == "AA"
    finally:
        sa.event.remove(engine, "before_cursor_execute", record)
    journal = [s for s in statements if "hl7_message" in s.split(" SET")[0]]
    assert journal == ["INSERT INTO hl7_message"], journal
    with Session(engine) as session:
        row = session.scalars(sa.select(Hl7Message).where(Hl7Message.control_id == "SIU0002")).one()
        link = session.scalars(sa.select(Hl7Appointment)).one()
        assert (row.state, link.message_id) == (Hl7State.APPLIED, row.id)
        assert row.reason.endswith("moved")
