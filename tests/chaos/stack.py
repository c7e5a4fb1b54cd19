"""The real stack a chaos scenario breaks: PostgreSQL (a private database), a broker of its own,
two workers, two dispatchers, and the fake provider counting requests per message.

Two patients: one whose local time is inside the day (its messages must each go out once) and
one whose local time is inside quiet hours (its non-critical messages must not go out at all).
"""

from __future__ import annotations

import collections
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlalchemy import insert, select
from sqlalchemy.orm import Session, sessionmaker

from engage.store import Consent, Enrollment, Message, Patient
from engage.store.db import make_engine, session_factory
from engage.store.migrate import upgrade
from tests.fakes.provider_server import TWILIO, ProviderServer
from tests.outbox_fill import LOAD_TEMPLATES
from tests.processes import Processes, processes, write_project

DAY_PHONE = "+14155550111"
QUIET_PHONE = "+14155550122"
FINAL = {"sent", "delivered", "failed", "undelivered", "cancelled", "suppressed", "flagged"}
IN_FLIGHT = {"queued", "sending", "uncertain"}
PENDING = {"scheduled", "uncertain"}  # waiting for their due time, by design

CHAOS_TOKEN = "t" * 32

SCHEDULE = {
    "clinic": {
        "name": "Chaos Clinic",
        "phone": "+14155550100",
        "timezone": "UTC",
        "website": "https://clinic.example.org",
        "daily_cap": 1000000,
        "quiet_hours": {"start": "21:00", "end": "08:00"},
    },
    "sequences": {
        "load": {
            "steps": [{"id": "ping", "anchor": "enrolled", "channels": ["sms"], "template": "ping"}]
        }
    },
}


def zone_at_local_hour(hours: range) -> str:
    """A whole-hour-offset zone whose local hour is now in `hours` (Etc/GMT signs are inverted)."""
    now = datetime.now(UTC)
    for offset in range(-12, 15):
        name = "UTC" if offset == 0 else f"Etc/GMT{-offset:+d}"
        if now.astimezone(ZoneInfo(name)).hour in hours:
            return name
    raise AssertionError(f"no zone at a local hour in {hours}")


def _fill(sessions: sessionmaker[Session], count: int, phone: str, zone: str) -> list[int]:
    now = datetime.now(UTC)
    with sessions.begin() as s:
        patient = Patient(
            first_name="Chaos",
            last_name="Test",
            phone=phone,
            email=None,
            timezone=zone,
            locale="en",
            preferred_channel="sms",
        )
        s.add(patient)
        s.flush()
        s.add(Consent(patient_id=patient.id, channel="sms", granted=True, source="test"))
        enrollment = Enrollment(patient_id=patient.id, sequence="load", enrolled_at=now)
        s.add(enrollment)
        s.flush()
        s.execute(
            insert(Message),
            [
                {
                    "patient_id": patient.id,
                    "enrollment_id": enrollment.id,
                    "sequence": "load",
                    "step_id": "ping",
                    "event_key": f"e{i}",
                    "occurrence": 1,
                    "channel": "sms",
                    "template": "ping",
                    "critical": False,
                    "due_at": now,
                    "state": "scheduled",
                    "reason": "",
                    "attempts": 0,
                    "created_at": now,
                    "updated_at": now,
                }
                for i in range(count)
            ],
        )
        ids = s.execute(select(Message.id).where(Message.enrollment_id == enrollment.id))
        return list(ids.scalars().all())


@dataclass
class Stack:
    db: str
    broker_url: str
    fake: ProviderServer
    procs: Processes
    day_ids: list[int] = field(default_factory=list)
    quiet_ids: list[int] = field(default_factory=list)
    started: float = field(default_factory=time.monotonic)
    extra_wire: list[int] = field(default_factory=list)  # requests a replaced fake had seen
    rejected: int = 0  # requests the fake was scripted to answer with an error

    def fill(self, day: int, quiet: int) -> None:
        sessions = session_factory(make_engine(self.db))
        self.day_ids = _fill(sessions, day, DAY_PHONE, zone_at_local_hour(range(10, 18)))
        quiet_zone = zone_at_local_hour(range(23, 24)) if quiet else "UTC"
        self.quiet_ids = _fill(sessions, quiet, QUIET_PHONE, quiet_zone) if quiet else []

    def wire(self) -> list[int]:
        """Our message id of every request the provider received (from its callback URL)."""
        seen = [
            int(r.form()["StatusCallback"].rsplit("/", 1)[1]) for r in self.fake.requests_to(TWILIO)
        ]
        return self.extra_wire + seen

    def states(self) -> collections.Counter[str]:
        engine = make_engine(self.db)
        with engine.connect() as conn:
            rows = conn.execute(
                sa.select(Message.state, sa.func.count()).group_by(Message.state)
            ).all()
        engine.dispose()
        return collections.Counter({str(state): n for state, n in rows})

    def rows(self) -> dict[int, tuple[str, datetime]]:
        engine = make_engine(self.db)
        with engine.connect() as conn:
            found = conn.execute(sa.select(Message.id, Message.state, Message.due_at)).all()
        engine.dispose()
        return {i: (str(state), due) for i, state, due in found}

    def describe(self, ids: list[int]) -> list[tuple[object, ...]]:
        """State, seconds until due, attempts, last error and reason of each of `ids`."""
        engine = make_engine(self.db)
        now = datetime.now(UTC)
        with engine.connect() as conn:
            found = conn.execute(
                sa.select(
                    Message.id,
                    Message.state,
                    Message.due_at,
                    Message.attempts,
                    Message.last_error_code,
                    Message.reason,
                ).where(Message.id.in_(ids))
            ).all()
        engine.dispose()
        return [
            (i, str(state), round((_aware(due) - now).total_seconds(), 1), n, code, why)
            for i, state, due, n, code, why in found
        ]

    def start_workers(self, count: int = 2) -> None:
        for n in range(count):
            self.procs.start(f"worker{n}", "worker", "-c", "4", "-Q", "sms,email")

    def start_dispatchers(self, count: int = 2) -> None:
        for n in range(count):
            self.procs.start(f"dispatcher{n}", "dispatcher")


def migrated(postgres_server_url: str) -> str:
    engine = sa.create_engine(postgres_server_url)
    from engage.store import Base

    with engine.begin() as conn:
        Base.metadata.drop_all(conn)
        conn.execute(sa.text("DROP TABLE IF EXISTS alembic_version"))
    engine.dispose()
    upgrade(postgres_server_url)
    return postgres_server_url


def env(db: str, broker_url: str, fake: ProviderServer, project: Path, **extra: str) -> dict:
    schedule, templates = write_project(project, SCHEDULE, LOAD_TEMPLATES)
    return {
        "ENGAGE_DATABASE_URL": db,
        "ENGAGE_BROKER_URL": broker_url,
        "ENGAGE_SCHEDULE_PATH": str(schedule),
        "ENGAGE_TEMPLATES_DIR": str(templates),
        "ENGAGE_TWILIO_ACCOUNT_SID": "AC" + "0" * 32,
        "ENGAGE_TWILIO_AUTH_TOKEN": CHAOS_TOKEN,  # refused if shorter (engage.secret_checks)
        "ENGAGE_SIGNING_SECRET": "s" * 32,
        "ENGAGE_TWILIO_FROM": "+15005550006",
        "ENGAGE_TWILIO_BASE_URL": fake.url,
        "ENGAGE_SMS_RATE_PER_SECOND": "100000",
        "ENGAGE_DISPATCH_INTERVAL_SECONDS": "0.5",
        "ENGAGE_STUCK_AFTER_SECONDS": "10",
        "ENGAGE_LOG_LEVEL": "WARNING",
        **extra,
    }


@contextmanager
def stack(
    db: str, broker_url: str, fake: ProviderServer, tmp: Path, **extra: str
) -> Iterator[Stack]:
    with processes(env(db, broker_url, fake, tmp / "project", **extra), tmp / "logs") as procs:
        yield Stack(db, broker_url, fake, procs)


def due_later(due: datetime, now: datetime) -> bool:
    return _aware(due) > now - timedelta(seconds=1)


def pending(state: str, due: datetime, now: datetime) -> bool:
    """Still due: a retry waiting for its backoff, or an ambiguous outcome waiting to ask the
    provider again (its look-up failed while the provider was down and backs off the same way)."""
    return state in PENDING and due_later(due, now)


def _aware(at: datetime) -> datetime:
    return at if at.tzinfo else at.replace(tzinfo=UTC)
