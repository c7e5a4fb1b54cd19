"""Bulk enrollment stores what enrolling each row on its own stores, in a few statements a batch.

Each test enrolls twin patients: one set through `enroll_csv`, the other row by row through
`enroll_course`, and compares every row written (ids and patient ids aside).
"""

from __future__ import annotations

import gc
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import event, select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker

from engage.enrollment import enroll_course
from engage.enrollment.anchors import parse_event
from engage.enrollment.bulk import enroll_csv
from engage.schedule.loader import load_schedule
from engage.store import Appointment, Enrollment, Message
from engage.store.audit import AuditLog
from engage.store.enrollments import EnrollmentEvent
from engage.store.messages import MessageEvent
from engage.store.patients import Patient
from tests.factories import NOW, add_patient

ROOT = Path(__file__).resolve().parents[2]
SCHEDULE = load_schedule(ROOT / "schedules.yaml")
# (patient fields, sequences, events): late steps, quiet hours, email only, a finished course.
ROWS: list[tuple[dict[str, Any], str, dict[str, str]]] = [
    ({}, "pre-infusion", {"infusion.start": "2027-03-10T09:00"}),
    ({}, "pre-infusion;post-infusion", {"infusion.start": "2027-03-02T08:00;2027-03-20T13:30"}),
    ({"sms": False, "preferred": "email"}, "post-infusion", {"infusion.start": "2027-04-01T10:00"}),
    ({"timezone": "America/Los_Angeles"}, "pre-infusion", {"infusion.start": "2027-03-01T23:00"}),
    (
        {"course_completed_at": datetime(2027, 2, 1, tzinfo=UTC)},
        "pre-infusion",
        {"infusion.start": "2027-03-09T09:00-05:00", "infusion.end": "2027-03-09T11:00-05:00"},
    ),
    (
        {"sms": False, "email_consent": False},
        "post-infusion",
        {"infusion.start": "2027-03-05T15:00"},
    ),
]
EVENT_COLUMNS = ("infusion.start", "infusion.end")


def _patient(session: Session, ref: str, **fields: Any) -> int:
    """A patient with its own phone and email (both are unique)."""
    number = sum(ord(c) * 31**i for i, c in enumerate(ref)) % 10_000
    contact = {"phone": f"+1415556{number:04d}", "email": f"{ref.lower()}@example.org"}
    return add_patient(session, external_ref=ref, **{**contact, **fields}).id


def _patients(session: Session, prefix: str) -> list[int]:
    return [_patient(session, f"{prefix}-{n}", **fields) for n, (fields, _s, _e) in enumerate(ROWS)]


def _csv(path: Path, prefix: str, rows: list[tuple[dict[str, Any], str, dict[str, str]]]) -> Path:
    lines = ["external_ref,sequence," + ",".join(EVENT_COLUMNS)]
    for n, (_fields, sequences, events) in enumerate(rows):
        lines.append(
            f"{prefix}-{n},{sequences}," + ",".join(events.get(c, "") for c in EVENT_COLUMNS)
        )
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def _one_by_one(sessions: sessionmaker[Session], ids: list[int]) -> None:
    for patient_id, (_fields, sequences, events) in zip(ids, ROWS, strict=True):
        with sessions() as session:
            zone = session.get_one(Patient, patient_id).timezone
            parsed = [
                parse_event(f"{name}={moment}", zone)
                for name, cell in events.items()
                for moment in cell.split(";")
            ]
            enroll_course(
                session,
                SCHEDULE,
                patient_id,
                sequences.split(";"),
                events=parsed,
                now=NOW,
                actor="t",
            )


def _written(session: Session, ids: list[int]) -> list[Any]:
    """Every row enrolling these patients wrote, per patient, with ids replaced by ranks."""
    out = []
    for patient_id in ids:
        appointments = {
            a.id: rank
            for rank, a in enumerate(
                session.scalars(
                    select(Appointment)
                    .where(Appointment.patient_id == patient_id)
                    .order_by(Appointment.starts_at)
                ),
                1,
            )
        }

        def key(text: str, appointments: dict[int, int] = appointments) -> str:
            kind, _, rest = text.partition(":")
            return f"{kind}:#{appointments[int(rest)]}" if kind == "appointment" else text

        enrollments = list(
            session.scalars(
                select(Enrollment)
                .where(Enrollment.patient_id == patient_id)
                .order_by(Enrollment.sequence)
            )
        )
        for enrollment in enrollments:
            events = session.scalars(
                select(EnrollmentEvent)
                .where(EnrollmentEvent.enrollment_id == enrollment.id)
                .order_by(EnrollmentEvent.name, EnrollmentEvent.key)
            )
            messages = session.scalars(
                select(Message)
                .where(Message.enrollment_id == enrollment.id)
                .order_by(Message.step_id, Message.event_key)
            )
            audit = session.scalars(
                select(AuditLog).where(
                    AuditLog.entity == "enrollment", AuditLog.entity_id == str(enrollment.id)
                )
            ).one()
            out.append(
                (
                    enrollment.sequence,
                    enrollment.state,
                    enrollment.enrolled_at,
                    sorted((e.name, e.at, key(e.key), e.occurrence, e.cancelled) for e in events),
                    sorted(_message(session, m, key) for m in messages),
                    {k: v for k, v in (audit.after or {}).items() if k != "patient_id"},
                    audit.actor,
                )
            )
        booked = session.scalars(
            select(AuditLog).where(
                AuditLog.action == "appointment.create",
                AuditLog.entity_id.in_([str(i) for i in appointments]),
            )
        )
        out.append(
            sorted(
                str({k: v for k, v in (a.after or {}).items() if k != "patient_id"}) for a in booked
            )
        )
    return out


def _message(session: Session, m: Message, key: Callable[[str], str]) -> tuple[Any, ...]:
    events = session.scalars(select(MessageEvent).where(MessageEvent.message_id == m.id))
    return (
        m.step_id,
        key(m.event_key),
        m.appointment_id is not None,
        m.occurrence,
        m.channel,
        m.template,
        m.critical,
        m.due_at,
        m.state,
        m.reason,
        m.attempts,
        [(e.from_state, e.to_state, e.reason, e.actor, e.at) for e in events],
    )


def test_bulk_rows_store_exactly_what_one_row_at_a_time_stores(
    sessions: sessionmaker[Session], tmp_path: Path
) -> None:
    with sessions() as session:
        bulk_ids, single_ids = _patients(session, "B"), _patients(session, "S")
    report = enroll_csv(sessions, SCHEDULE, _csv(tmp_path / "f.csv", "B", ROWS), now=NOW, actor="t")
    _one_by_one(sessions, single_ids)
    assert (report.enrolled, report.rejected, report.problems) == (len(ROWS), 0, [])
    with sessions() as session:
        bulk, single = _written(session, bulk_ids), _written(session, single_ids)
    assert bulk == single
    assert any(m[8] != "scheduled" for rows in bulk if isinstance(rows, tuple) for m in rows[4])


def test_a_batch_is_stored_in_a_few_statements_whatever_its_size(
    sessions: sessionmaker[Session], engine: Engine, tmp_path: Path
) -> None:
    with sessions() as session:
        for n in range(60):
            _patient(session, f"N-{n}")
    rows = [({}, "pre-infusion;post-infusion", {"infusion.start": "2027-03-10T09:00"})] * 60
    statements: list[str] = []
    event.listen(engine, "before_cursor_execute", lambda *a: statements.append(a[2]))
    report = enroll_csv(sessions, SCHEDULE, _csv(tmp_path / "n.csv", "N", rows), now=NOW, actor="t")
    assert report.enrolled == 60
    with sessions() as session:
        assert len(session.scalars(select(Message)).all()) >= 60 * 4
    inserts = [s for s in statements if s.lstrip().upper().startswith("INSERT")]
    # SQLite has no sentinel to keep RETURNING in parameter order: it inserts row by row there.
    assert len(inserts) <= 12 or engine.dialect.name == "sqlite"


def test_a_patient_twice_in_a_file_or_already_enrolled_is_refused_at_its_line(
    sessions: sessionmaker[Session], tmp_path: Path
) -> None:
    with sessions() as session:
        for n in range(3):
            _patient(session, f"D-{n}")
    first = [({}, "pre-infusion", {"infusion.start": "2027-03-10T09:00"})]
    enroll_csv(sessions, SCHEDULE, _csv(tmp_path / "a.csv", "D", first), now=NOW, actor="t")
    path = tmp_path / "b.csv"
    path.write_text(
        "external_ref,sequence,infusion.start\n"
        "D-0,pre-infusion,2027-03-12T09:00\n"  # enrolled by the first file
        "D-1,pre-infusion,2027-03-12T09:00\n"
        "D-1,pre-infusion,2027-03-19T09:00\n"  # the row above enrolled it
        "D-2,pre-infusion,2027-03-12T09:00;2027-03-12T09:30\n",  # two overlapping infusions
        encoding="utf-8",
    )
    report = enroll_csv(sessions, SCHEDULE, path, now=NOW, actor="t")
    assert report.enrolled == 1
    assert [p.split(": ")[0] for p in report.problems] == ["b.csv:2", "b.csv:4", "b.csv:5"]
    assert "already enrolled" in report.problems[0] and "already enrolled" in report.problems[1]
    assert "overlaps appointment" in report.problems[2]
    with sessions() as session:
        refs = session.scalars(select(Enrollment.patient_id)).all()
        assert len(refs) == 2


def test_the_cycle_collector_runs_less_often_during_a_file_and_as_before_after_it(
    sessions: sessionmaker[Session], tmp_path: Path
) -> None:
    # Collecting the young generation every 700 allocations was a quarter of a bulk
    # enrollment's CPU (measured by bench/bulk_enroll.py); the setting is the process's, so it
    # must be back once the file is done, whether it enrolled or failed.
    with sessions() as session:
        _patient(session, "G-0")
    before = gc.get_threshold()
    during: list[tuple[int, int, int]] = []
    rows = [({}, "pre-infusion", {"infusion.start": "2027-03-10T09:00"})]
    report = enroll_csv(
        sessions,
        SCHEDULE,
        _csv(tmp_path / "g.csv", "G", rows),
        now=NOW,
        actor="t",
        on_progress=lambda *_: during.append(gc.get_threshold()),
    )
    assert report.enrolled == 1
    assert during and during[0][0] >= 100_000 and during[0][1:] == before[1:]
    assert gc.get_threshold() == before
