"""Rescheduling one patient's appointment while the outbox holds a million messages.

The patient is enrolled in pre-infusion and post-infusion with three booked infusions, through
the enrollment service (the real planner, the repository's schedules.yaml). Each timed call is
one `move_appointment` transaction: it re-plans that patient's pending messages and commits.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa

from bench.procs import ROOT
from bench.stats import percentile
from engage.enrollment import enroll, move_appointment
from engage.planning.planner import AnchorEvent
from engage.schedule.loader import load_schedule
from engage.store import Appointment, Consent, Message, Patient
from engage.store.db import make_engine, session_factory

Progress = Callable[[int, int], None]
WARMUP = 10


@dataclass(frozen=True)
class RescheduleResult:
    stored: int  # messages in the outbox while timing
    patient_messages: int  # this patient's messages
    calls: int
    p50_ms: float
    p99_ms: float
    max_ms: float


def measure(database_url: str, progress: Progress, calls: int = 200) -> RescheduleResult:
    schedule = load_schedule(ROOT / "schedules.yaml")
    engine = make_engine(database_url)
    sessions = session_factory(engine)
    now = datetime.now(UTC)
    starts = [now + timedelta(days=d, hours=17 - now.hour) for d in (14, 28, 42)]
    with sessions() as session:
        patient_id = _patient(session)
        events = [AnchorEvent("infusion.start", at) for at in starts]
        enroll(session, schedule, patient_id, "pre-infusion", events, now=now, actor="bench")
        enroll(session, schedule, patient_id, "post-infusion", now=now, actor="bench")
        appointments = list(
            session.scalars(sa.select(Appointment.id).where(Appointment.patient_id == patient_id))
        )
    timings = []
    for call in range(WARMUP + calls):
        appointment_id = appointments[call % len(appointments)]
        shift = timedelta(days=1 if (call // len(appointments)) % 2 == 0 else -1)
        with sessions() as session:
            current = session.get_one(Appointment, appointment_id).starts_at
            started = time.perf_counter()
            move_appointment(
                session, schedule, appointment_id, current + shift, now=now, actor="bench"
            )
            elapsed = (time.perf_counter() - started) * 1000
        if call >= WARMUP:
            timings.append(elapsed)
            progress(len(timings), calls)
    with engine.connect() as conn:
        stored = conn.execute(sa.select(sa.func.count()).select_from(Message)).scalar_one()
        mine = conn.execute(
            sa.select(sa.func.count()).where(Message.patient_id == patient_id)
        ).scalar_one()
    engine.dispose()
    return RescheduleResult(
        stored=int(stored),
        patient_messages=int(mine),
        calls=calls,
        p50_ms=percentile(timings, 50),
        p99_ms=percentile(timings, 99),
        max_ms=max(timings),
    )


def _patient(session: sa.orm.Session) -> int:
    patient = Patient(
        first_name="Rita",
        last_name="Moves",
        phone="+12125550142",
        email="rita.moves@example.org",
        timezone="America/New_York",
        locale="en",
        preferred_channel="sms",
    )
    session.add(patient)
    session.flush()
    for channel in ("sms", "email"):
        session.add(Consent(patient_id=patient.id, channel=channel, granted=True, source="bench"))
    session.commit()
    return patient.id
