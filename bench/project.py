"""The schedule and templates the delivery processes load, and their ENGAGE_* environment.

One step (SMS or email, as each message says), a daily cap far above anything sent and no quiet hours: the gate always says
send, so the benchmark measures delivery itself, not the clinic's rules.
"""

from __future__ import annotations

from pathlib import Path

import yaml

SCHEDULE = {
    "clinic": {
        "name": "Bench Clinic",
        "phone": "+14155550100",
        "timezone": "UTC",
        "website": "https://clinic.example.org",
        "daily_cap": 100000000,
        "quiet_hours": {"start": "00:00", "end": "00:00"},  # equal ends: no quiet window
    },
    "sequences": {
        "load": {
            "steps": [
                {
                    "id": "ping",
                    "anchor": "enrolled",
                    "channels": ["sms", "email"],
                    "template": "ping",
                }
            ]
        }
    },
}
TEMPLATES = {
    "ping.sms.j2": "Hello {{ patient.first_name }}. Reply STOP to opt out.",
    "ping.subject.j2": "A note from the clinic",
    "ping.txt.j2": "Hello {{ patient.first_name }}.",
    "ping.html.j2": "<p>Hello {{ patient.first_name }}.</p>",
}
RATE_CAP = 400  # ENGAGE_SMS_RATE_PER_SECOND: far above the target, so the cap shows if crossed
TICK = 1.0  # ENGAGE_DISPATCH_INTERVAL_SECONDS (the default)


def write_project(folder: Path) -> tuple[Path, Path]:
    folder.mkdir(parents=True, exist_ok=True)
    schedule = folder / "schedules.yaml"
    schedule.write_text(yaml.safe_dump(SCHEDULE, sort_keys=False))
    for name, source in TEMPLATES.items():
        target = folder / "templates" / "en" / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(source)
    return schedule, folder / "templates"


def engage_env(
    folder: Path, database_url: str, broker_url: str, provider_url: str, **extra: str
) -> dict[str, str]:
    schedule, templates = write_project(folder)
    return {
        "ENGAGE_DATABASE_URL": database_url,
        "ENGAGE_BROKER_URL": broker_url,
        "ENGAGE_SCHEDULE_PATH": str(schedule),
        "ENGAGE_TEMPLATES_DIR": str(templates),
        "ENGAGE_TWILIO_ACCOUNT_SID": "AC" + "0" * 32,
        "ENGAGE_TWILIO_AUTH_TOKEN": "t" * 32,  # refused if shorter (engage.secret_checks)
        "ENGAGE_SIGNING_SECRET": "s" * 32,
        "ENGAGE_TWILIO_FROM": "+15005550006",
        "ENGAGE_TWILIO_BASE_URL": provider_url,
        "ENGAGE_SMS_RATE_PER_SECOND": str(RATE_CAP),
        "ENGAGE_SENDGRID_API_KEY": "SG.bench",
        "ENGAGE_SENDGRID_FROM": "clinic@example.org",
        "ENGAGE_SENDGRID_BASE_URL": provider_url,
        "ENGAGE_EMAIL_RATE_PER_SECOND": str(RATE_CAP),
        "ENGAGE_DISPATCH_INTERVAL_SECONDS": str(TICK),
        "ENGAGE_LOG_LEVEL": "WARNING",
        **extra,
    }
