"""Logs carry ids and actions, never a phone number, an email address or a message body.

Real messages go through the whole pipeline (dispatcher, sender, the real Twilio and SendGrid
SDKs against the fake provider), including vendor errors that echo the recipient back, and
every line the JSON log configuration writes to stderr is scanned.
"""

from __future__ import annotations

import io
import json
import logging

import pytest

from engage.store import Patient
from tests.delivery_kit import TEMPLATES, Kit
from tests.fakes.provider_server import (
    SENDGRID,
    TWILIO,
    ProviderServer,
    sendgrid_error,
    twilio_error,
)


@pytest.fixture
def log_level() -> str:
    return "DEBUG"  # engage's production log configuration at its most talkative


def patients_and_their_secrets(kit: Kit) -> tuple[list[int], list[str]]:
    ids = [kit.patient(name=name) for name in ("Zephyrine", "Quillon", "Marisol")]
    kit.patient(name="Ottoline", sms=False, email=False)
    secrets = ["Hi Zephyrine", "a note from Test Clinic", "Reply STOP", "A note from"]
    with kit.sessions() as s:
        for patient in s.query(Patient):
            digits = patient.phone.removeprefix("+1")
            secrets += [patient.phone, digits, f"({digits[:3]}) {digits[3:6]}-{digits[6:]}"]
            secrets += [patient.email, patient.email.split("@")[0], patient.first_name]
    return ids, secrets


def test_no_log_line_carries_a_phone_an_email_or_a_body(
    kit: Kit, fake: ProviderServer, stderr: io.StringIO
) -> None:
    (zeph, quill, mari), secrets = patients_and_their_secrets(kit)
    # Vendors echo the recipient in their error text; none of it may reach a log line.
    with kit.sessions() as s:
        phone = s.get_one(Patient, quill).phone
        email = s.get_one(Patient, mari).email
    fake.script(TWILIO, twilio_error(429, 20429, f"Too many messages to {phone}", Retry_After="1"))
    fake.script(TWILIO, twilio_error(400, 21211, f"The 'To' number {phone} is not valid"))
    fake.script(SENDGRID, sendgrid_error(400, f"Invalid email {email}"))
    ids = [
        kit.message(zeph),
        kit.message(zeph, channel="email"),
        kit.message(quill),
        kit.message(quill),
        kit.message(mari, channel="email"),
        kit.message(mari, channel="email", step="safety", critical=True),
    ]
    flagged = kit.message(
        kit.patient(name="Pernille", sms=False, email=False), step="safety", critical=True
    )
    for _ in range(3):
        kit.run_due()
        kit.clock.advance(seconds=30)
    assert len(fake.requests) >= len(ids)  # real traffic reached the provider, errors included

    err = stderr.getvalue()
    lines = [line for line in err.splitlines() if line.strip()]
    events = [json.loads(line) for line in lines]  # every line is one JSON object
    for line in lines:
        for secret in [*secrets, "Pernille", "Ottoline"]:
            assert secret not in line, f"{secret!r} leaked into a log line: {line}"
    sent = [e for e in events if e.get("event") == "send.sent"]
    assert sent and all({"message_id", "patient_id", "enrollment_id"} <= e.keys() for e in sent)
    errors = [e for e in events if e.get("event") == "send.error"]
    assert {e["code"] for e in errors} >= {"20429", "21211"}
    assert any(e.get("message_id") == flagged and e.get("action") == "flag" for e in events)


def test_the_redacting_processor_masks_whatever_a_caller_passes(
    stderr: io.StringIO,
) -> None:
    log = logging.getLogger("engage.test")
    log.warning("reply from +1 (415) 555-0134 or ana.perez@example.org")
    import structlog

    structlog.get_logger("engage.test").info(
        "oops", body=TEMPLATES["note.sms.j2"], to="+14155550134"
    )
    out = stderr.getvalue()
    assert "555-0134" not in out and "ana.perez" not in out and "Hi {{" not in out
    assert "[phone]" in out and "[email]" in out and "[redacted]" in out
