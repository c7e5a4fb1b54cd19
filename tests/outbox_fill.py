"""Fill an outbox fast: one patient, one enrollment, N due messages (for load and crash tests)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import insert, select
from sqlalchemy.orm import Session, sessionmaker

from engage.store import Consent, Enrollment, Message, Patient

LOAD_SCHEDULE = {
    "clinic": {
        "name": "Load Clinic",
        "phone": "+14155550100",
        "timezone": "UTC",
        "website": "https://clinic.example.org",
        "daily_cap": 1000000,
        "quiet_hours": {"start": "00:00", "end": "00:00"},  # equal ends: no quiet window
    },
    "sequences": {
        "load": {
            "steps": [{"id": "ping", "anchor": "enrolled", "channels": ["sms"], "template": "ping"}]
        }
    },
}
# Each message's body differs (its own link), as a patient's real messages do: the same body to
# the same number within seconds is the one case Twilio's records cannot tell apart when an
# uncertain send is settled (docs/delivery.md), and these tests count sends per message id.
LOAD_TEMPLATES = {
    "ping.sms.j2": "Hello {{ patient.first_name }}: {{ links.unsubscribe }} Reply STOP to opt out."
}


def fill(
    sessions: sessionmaker[Session],
    count: int,
    *,
    due: datetime | None = None,
    spread: float = 0.0,
    phone: str = "+14155550199",
) -> list[int]:
    """Insert `count` scheduled SMS messages due at `due` (+ i*spread seconds); return their ids."""
    due = due or datetime.now(UTC)
    with sessions.begin() as s:
        patient = Patient(
            first_name="Load",
            last_name="Test",
            phone=phone,
            email=None,
            timezone="UTC",
            locale="en",
            preferred_channel="sms",
        )
        s.add(patient)
        s.flush()
        s.add(Consent(patient_id=patient.id, channel="sms", granted=True, source="test"))
        enrollment = Enrollment(patient_id=patient.id, sequence="load", enrolled_at=due)
        s.add(enrollment)
        s.flush()
        rows = [
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
                "due_at": due + timedelta(seconds=i * spread),
                "state": "scheduled",
                "reason": "",
                "attempts": 0,
                "created_at": due,
                "updated_at": due,
            }
            for i in range(count)
        ]
        for start in range(0, count, 5000):
            s.execute(insert(Message), rows[start : start + 5000])
        ids = (
            s.execute(select(Message.id).where(Message.enrollment_id == enrollment.id))
            .scalars()
            .all()
        )
    return list(ids)
