"""`engage demo`: a whole course for a few sample patients, on a virtual clock, in seconds.

The real dispatcher and sender run against a throw-away SQLite outbox and the file channel; only
time is simulated: the clock jumps to the next due message instead of waiting for it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from engage.channels.file import FileChannel
from engage.delivery.claim import Claimed
from engage.delivery.dispatcher import Dispatcher
from engage.delivery.ratelimit import LocalRateLimiter
from engage.delivery.retry import RetryPolicy
from engage.delivery.sender import Sender
from engage.demo.samples import SAMPLES, add_patient, enroll_course
from engage.enrollment import complete_course
from engage.rendering.environment import make_environment
from engage.schedule.models import Schedule
from engage.store.appointments import Appointment
from engage.store.db import make_engine, session_factory
from engage.store.messages import Message, MessageState
from engage.store.migrate import upgrade
from engage.store.patients import Patient

HORIZON = timedelta(days=400)  # booster nudges run to ten months after the course


@dataclass(frozen=True)
class Sent:
    """One line of the demo's report."""

    at: datetime
    patient: str
    timezone: str
    sequence: str
    step: str
    channel: str
    state: str
    reason: str


class VirtualClock:
    def __init__(self, start: datetime) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now


def run_demo(
    schedule: Schedule,
    templates: Path,
    workdir: Path,
    *,
    start: datetime | None = None,
    on_progress: Callable[[float], None] = lambda _: None,
) -> list[Sent]:
    """Run the course for every sample patient; return what left the outbox, in order."""
    url = f"sqlite:///{workdir / 'demo.db'}"
    upgrade(url)
    sessions = session_factory(make_engine(url))
    clock = VirtualClock((start or datetime.now(UTC)).replace(second=0, microsecond=0))
    first = clock.now
    file = FileChannel(workdir / "outbox")
    sender = Sender(
        sessions=sessions,
        schedule=schedule,
        env=make_environment(templates),
        channels={"sms": file, "email": file},
        limiter=LocalRateLimiter({"file": 1e9}),
        policy=RetryPolicy(),
        public_url="http://127.0.0.1:8000",
        signing_secret="demo",
        clock=clock,
    )

    def enqueue(claimed: list[Claimed]) -> None:
        for item in claimed:
            sender.send(item.id)

    dispatcher = Dispatcher(sessions, enqueue, clock=clock)
    with sessions() as session:
        for n, sample in enumerate(SAMPLES):
            enroll_course(
                session,
                schedule,
                add_patient(session, sample, clock.now),
                clock.now,
                in_clinic=n == 0,
            )
    completed: set[int] = set()
    while clock.now < first + HORIZON:
        dispatcher.tick()
        _complete_courses(sessions, schedule, clock, completed)
        with sessions() as session:
            upcoming = session.execute(
                select(func.min(Message.due_at)).where(Message.state == MessageState.SCHEDULED)
            ).scalar_one_or_none()
        if upcoming is None:
            break
        clock.now = max(clock.now + timedelta(seconds=1), upcoming)
        on_progress(min(1.0, (clock.now - first) / HORIZON))
    on_progress(1.0)
    return _report(sessions)


def _complete_courses(
    sessions: object, schedule: Schedule, clock: VirtualClock, done: set[int]
) -> None:
    """Once a patient's last infusion has ended, staff mark the course completed."""
    from sqlalchemy.orm import Session, sessionmaker

    assert isinstance(sessions, sessionmaker)
    with sessions() as session:
        assert isinstance(session, Session)
        last_ends = session.execute(
            select(Appointment.patient_id, func.max(Appointment.ends_at)).group_by(
                Appointment.patient_id
            )
        ).all()
        for patient_id, last_end in last_ends:
            if patient_id not in done and last_end <= clock.now:
                complete_course(
                    session, schedule, patient_id, last_end, now=clock.now, actor="demo"
                )
                done.add(patient_id)


def _report(sessions: sessionmaker[Session]) -> list[Sent]:
    with sessions() as session:
        rows = session.execute(
            select(Message, Patient.first_name, Patient.timezone)
            .join(Patient, Patient.id == Message.patient_id)
            .order_by(Message.sent_at, Message.due_at, Message.id)
        ).all()
    return [
        Sent(
            at=m.sent_at or m.due_at,
            patient=name,
            timezone=zone,
            sequence=m.sequence,
            step=m.step_id,
            channel=m.channel,
            state=str(m.state),
            reason=m.reason,
        )
        for m, name, zone in rows
    ]
