"""Sample patients for the embedded mode and the demo: fictional people, 555 numbers.

Each is enrolled in the clinic's education series and booked for a course of weekly infusions,
so a fresh `make run` has a realistic outbox to watch.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from engage.consent import service as consent_service
from engage.enrollment import enroll
from engage.planning.planner import AnchorEvent
from engage.schedule.models import Schedule
from engage.store.patients import Patient

ACTOR = "samples"


@dataclass(frozen=True)
class SamplePatient:
    first_name: str
    last_name: str
    phone: str
    email: str
    timezone: str
    locale: str
    preferred_channel: str
    sms: bool
    email_ok: bool


SAMPLES = (
    SamplePatient(
        "Ana",
        "Reyes",
        "+14155550101",
        "ana.reyes@example.org",
        "America/Los_Angeles",
        "es",
        "sms",
        True,
        True,
    ),
    SamplePatient(
        "Ben",
        "Okafor",
        "+12125550102",
        "ben.okafor@example.org",
        "America/New_York",
        "en",
        "email",
        False,
        True,
    ),
    SamplePatient(
        "Chloe",
        "Martin",
        "+13125550103",
        "chloe.martin@example.org",
        "America/Chicago",
        "en",
        "sms",
        True,
        True,
    ),
)
COURSE_INFUSIONS = 6


def infusion_starts(first_day: date, zone: str, count: int = COURSE_INFUSIONS) -> list[datetime]:
    """Weekly infusions at 10:00 local, starting on `first_day`."""
    return [
        datetime.combine(first_day + timedelta(weeks=n), time(10, 0), ZoneInfo(zone))
        for n in range(count)
    ]


def add_patient(session: Session, sample: SamplePatient, now: datetime) -> Patient:
    patient = Patient(
        first_name=sample.first_name,
        last_name=sample.last_name,
        phone=sample.phone,
        email=sample.email,
        timezone=sample.timezone,
        locale=sample.locale,
        preferred_channel=sample.preferred_channel,
        created_at=now,
        updated_at=now,
    )
    session.add(patient)
    session.flush()
    for channel, granted in (("sms", sample.sms), ("email", sample.email_ok)):
        consent_service.change(
            session,
            patient.id,
            channel,
            granted=granted,
            source=ACTOR,
            actor=ACTOR,
            now=now,
            origin=consent_service.Origin.SYSTEM,
        )
    session.commit()
    return patient


def enroll_course(
    session: Session,
    schedule: Schedule,
    patient: Patient,
    now: datetime,
    *,
    in_clinic: bool = False,
) -> None:
    """Education now and a weekly course of infusions with their reminders.

    The course starts three days ahead, or (`in_clinic`) with an infusion that began 50 minutes
    ago, so its discharge safety message is due at once and `make run` shows a send right away.
    """
    first = (now.astimezone(ZoneInfo(patient.timezone)) + timedelta(days=3)).date()
    starts = infusion_starts(first, patient.timezone)
    if in_clinic:
        starts = [now - timedelta(minutes=50), *starts[: COURSE_INFUSIONS - 1]]
    enroll(session, schedule, patient.id, "education", now=now, actor=ACTOR)
    enroll(
        session,
        schedule,
        patient.id,
        "pre-infusion",
        [AnchorEvent("infusion.start", at, occurrence=n + 1) for n, at in enumerate(starts)],
        now=now,
        actor=ACTOR,
    )
    enroll(session, schedule, patient.id, "post-infusion", now=now, actor=ACTOR)


def load_samples(
    sessions: sessionmaker[Session], schedule: Schedule, now: datetime | None = None
) -> str:
    """Add the sample patients to an empty database; say what was done."""
    now = now or datetime.now(UTC)
    with sessions() as session:
        if session.execute(select(func.count(Patient.id))).scalar_one():
            return "database not empty: none added"
        for n, sample in enumerate(SAMPLES):
            patient = add_patient(session, sample, now)
            enroll_course(session, schedule, patient, now, in_clinic=n == len(SAMPLES) - 1)
    return f"{len(SAMPLES)} added, each enrolled in education, pre- and post-infusion"
