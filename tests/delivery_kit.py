"""Builders shared by the delivery tests: a tiny clinic, its templates, patients and outbox rows."""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy.orm import Session, sessionmaker

from engage.channels.base import Channel
from engage.channels.sendgrid import SendGridChannel
from engage.channels.twilio import TwilioChannel
from engage.delivery.claim import Claimed
from engage.delivery.dispatcher import Dispatcher
from engage.delivery.ratelimit import LocalRateLimiter
from engage.delivery.retry import RetryPolicy
from engage.delivery.sender import Sender
from engage.rendering.environment import make_environment
from engage.schedule.models import Schedule
from engage.settings import Settings
from engage.store import Appointment, Consent, Enrollment, Message, Patient
from engage.store.db import make_engine, session_factory
from engage.store.migrate import upgrade

SCHEDULE = {
    "clinic": {
        "name": "Test Clinic",
        "phone": "+14155550100",
        "timezone": "America/New_York",
        "website": "https://clinic.example.org",
        "daily_cap": 2,
    },
    "sequences": {
        "care": {
            "steps": [
                {
                    "id": "note",
                    "anchor": "enrolled",
                    "channels": ["sms", "email"],
                    "template": "note",
                },
                {
                    "id": "safety",
                    "anchor": "enrolled",
                    "channels": ["sms"],
                    "template": "note",
                    "critical": True,
                },
                {
                    "id": "visit",
                    "anchor": "infusion.start",
                    "channels": ["email"],
                    "template": "visit",
                    "attach": ["calendar"],
                },
            ]
        }
    },
}
TEMPLATES = {
    "note.sms.j2": "Hi {{ patient.first_name }}, a note from {{ clinic.name }}. Reply STOP to opt out.",
    "note.subject.j2": "A note from {{ clinic.name }}",
    "note.html.j2": "<p>Hi {{ patient.first_name }}</p><a href='{{ links.unsubscribe }}'>unsubscribe</a>",
    "note.txt.j2": "Hi {{ patient.first_name }}\nUnsubscribe: {{ links.unsubscribe }}",
    "visit.subject.j2": "Your visit on {{ appointment.date }}",
    "visit.html.j2": "<p>See you at {{ appointment.time }}, {{ appointment.location }}</p>",
    "visit.txt.j2": "See you at {{ appointment.time }}, {{ appointment.location }}",
}
_numbers = itertools.count(1000)
NOON_UTC = datetime(2027, 3, 10, 16, 0, tzinfo=UTC)  # 11:00 in New York: outside quiet hours


def provider_settings(fake_url: str, **overrides: object) -> Settings:
    """Settings that aim the real Twilio and SendGrid SDKs at a fake provider."""
    values: dict[str, object] = {
        "twilio_account_sid": "AC" + "0" * 32,
        "twilio_auth_token": "token",
        "twilio_from": "+15005550006",
        "twilio_base_url": fake_url,
        "sendgrid_api_key": "SG.test",
        "sendgrid_from": "care@clinic.example.org",
        "sendgrid_base_url": fake_url,
        "send_timeout_seconds": 2,
        **overrides,
    }
    return Settings.model_validate(values)


def provider_channels(settings: Settings) -> dict[str, Channel]:
    return {"sms": TwilioChannel(settings), "email": SendGridChannel(settings)}


def write_templates(root: Path) -> Path:
    for name, source in TEMPLATES.items():
        target = root / "en" / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(source)
    return root


def migrated_sessions(url: str) -> sessionmaker[Session]:
    upgrade(url)
    return session_factory(make_engine(url))


class Clock:
    """A clock tests move by hand."""

    def __init__(self, now: datetime = NOON_UTC) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


@dataclass
class Kit:
    sessions: sessionmaker[Session]
    schedule: Schedule
    sender: Sender
    dispatcher: Dispatcher
    clock: Clock

    def patient(self, *, sms: bool = True, email: bool = True, name: str = "Ana") -> int:
        n = next(_numbers)
        with self.sessions.begin() as s:
            p = Patient(
                first_name=name,
                last_name="Test",
                phone=f"+1415555{n:04d}",
                email=f"{name.lower()}{n}@example.org",
                timezone="America/New_York",
                locale="en",
                preferred_channel="sms",
            )
            s.add(p)
            s.flush()
            for channel, granted in (("sms", sms), ("email", email)):
                s.add(Consent(patient_id=p.id, channel=channel, granted=granted, source="test"))
            return p.id

    def appointment(self, patient_id: int, starts_at: datetime, location: str = "Room 4") -> int:
        with self.sessions.begin() as s:
            a = Appointment(
                patient_id=patient_id,
                starts_at=starts_at,
                ends_at=starts_at + timedelta(minutes=45),
                location=location,
            )
            s.add(a)
            s.flush()
            return a.id

    def message(
        self,
        patient_id: int,
        *,
        step: str = "note",
        channel: str = "sms",
        due_in: float = 0,
        critical: bool = False,
        appointment_id: int | None = None,
    ) -> int:
        with self.sessions.begin() as s:
            enrollment = Enrollment(
                patient_id=patient_id, sequence="care", enrolled_at=self.clock()
            )
            s.add(enrollment)
            s.flush()
            m = Message(
                patient_id=patient_id,
                enrollment_id=enrollment.id,
                sequence="care",
                step_id=step,
                event_key=f"k{enrollment.id}",
                channel=channel,
                template=self.schedule.sequence("care").step(step).template,
                critical=critical,
                appointment_id=appointment_id,
                due_at=self.clock() + timedelta(seconds=due_in),
            )
            s.add(m)
            s.flush()
            return m.id

    def get(self, message_id: int) -> Message:
        with self.sessions() as s:
            message = s.get(Message, message_id)
            assert message is not None
            return message

    def run_due(self) -> int:
        """One dispatcher tick whose tasks run right here, in order."""
        return self.dispatcher.tick()


def build_kit(
    url: str,
    templates: Path,
    channels: dict,
    *,
    clock: Clock | None = None,
    policy: RetryPolicy | None = None,
    alert_after: timedelta = timedelta(minutes=15),
) -> Kit:
    sessions = migrated_sessions(url)
    schedule = Schedule.model_validate(SCHEDULE)
    clock = clock or Clock()
    sender = Sender(
        sessions=sessions,
        schedule=schedule,
        env=make_environment(write_templates(templates)),
        channels=channels,
        limiter=LocalRateLimiter({"twilio": 1000.0, "sendgrid": 1000.0, "file": 1000.0}),
        policy=policy or RetryPolicy(max_attempts=3, base=1.0, cap=10.0),
        public_url="https://engage.example.org",
        signing_secret="test-secret",
        clock=clock,
        alert_after=alert_after,
    )

    def enqueue(claimed: list[Claimed]) -> None:
        # Each channel's claim as one batch (a packed task): every test runs the batch path.
        for channel in sorted({item.channel for item in claimed}):
            sender.send_many([item.id for item in claimed if item.channel == channel])

    dispatcher = Dispatcher(sessions, enqueue, batch_size=100, clock=clock)
    return Kit(sessions, schedule, sender, dispatcher, clock)
