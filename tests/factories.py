"""Builders shared by the store, enrollment and CLI tests: schedules, patients, sent messages."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy.orm import Session

from engage.schedule.models import Clinic, Schedule, Sequence, Step
from engage.store import Consent, Message, MessageState, Patient, transition

NOW = datetime(2027, 3, 1, 15, 0, tzinfo=UTC)  # a Monday; New York is on EST (UTC-5) until 14 March
CLINIC = Clinic(name="Test Clinic", phone="+14155550123", timezone="America/New_York")


def make_schedule(sequences: dict[str, list[dict[str, Any]]], **clinic: Any) -> Schedule:
    """A schedule from plain step dicts: {"pre": [{"id": "prep", "anchor": ..., ...}]}."""
    return Schedule(
        clinic=CLINIC.model_copy(update=clinic),
        sequences={
            name: Sequence(name=name, steps=tuple(Step.model_validate(s) for s in steps))
            for name, steps in sequences.items()
        },
    )


# A small clinic: education after enrollment, reminders around each infusion, a booster nudge.
SCHEDULE = make_schedule(
    {
        "education": [
            {"id": "welcome", "anchor": "enrolled", "template": "education/welcome"},
            {
                "id": "diary",
                "anchor": "enrolled",
                "offset": "+2d",
                "at": "10:00",
                "template": "education/diary",
                "channels": ["email", "sms"],
            },
        ],
        "infusion": [
            {
                "id": "prep",
                "anchor": "infusion.start",
                "offset": "-1d",
                "at": "10:00",
                "template": "infusion/prep",
                "channels": ["sms", "email"],
            },
            {
                "id": "first-visit",
                "anchor": "infusion.start",
                "offset": "-3d",
                "at": "11:00",
                "template": "infusion/first",
                "when": {"occurrence": "first"},
            },
            {
                "id": "no-driving",
                "anchor": "infusion.end",
                "offset": "+0m",
                "template": "infusion/no-driving",
                "channels": ["sms"],
                "critical": True,
            },
        ],
        "booster": [
            {
                "id": "booster-due",
                "anchor": "course.completed",
                "offset": "+9mo",
                "at": "10:00",
                "template": "booster/due",
                "channels": ["email", "sms"],
            }
        ],
    }
)


def add_patient(
    session: Session,
    *,
    phone: str | None = "+14155550100",
    email: str | None = "pat@example.org",
    sms: bool = True,
    email_consent: bool = True,
    preferred: str = "sms",
    timezone: str = "America/New_York",
    **fields: Any,
) -> Patient:
    """A stored patient with consent as given (committed, so services can load it)."""
    patient = Patient(
        first_name=fields.pop("first_name", "Pat"),
        last_name=fields.pop("last_name", "Doe"),
        phone=phone,
        email=email,
        timezone=timezone,
        locale=fields.pop("locale", "en"),
        preferred_channel=preferred,
        **fields,
    )
    patient.consents = [
        Consent(channel=channel, granted=granted, changed_at=NOW, source="api")
        for channel, granted in (("sms", sms), ("email", email_consent))
    ]
    session.add(patient)
    session.commit()
    return patient


def mark_sent(session: Session, message: Message, at: datetime = NOW) -> None:
    """Walk a message through the real transitions a worker makes, up to `sent`."""
    for state in (MessageState.QUEUED, MessageState.SENDING, MessageState.SENT):
        transition(session, message, state, "test", "worker", at=at)
    session.commit()
