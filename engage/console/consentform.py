"""The consent form's rules: what staff must say to record a decision, checked before the
consent service judges it (engage.consent.service is the one writer and has the last word).

Staff always say how the patient told them (source) and in their own words why (reason):
granting is then new express consent. A channel the patient closed themselves (STOP, an
unsubscribe, a bounce) is re-opened only that way; the page says so before staff submit.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from engage.consent.precedence import Current, held_by_patient
from engage.store.patients import Patient

CHANNELS = (("sms", "SMS"), ("email", "Email"))
SOURCES = (
    ("phone-call", "Phone call with the patient"),
    ("signed-form", "Signed consent form"),
    ("front-desk", "In person at the front desk"),
    ("patient-email", "Written request from the patient"),
)
# How every door names its source, in words staff read in the consent table and ledger.
SOURCE_WORDS = dict(SOURCES) | {
    "csv-import": "Patient import (CSV)",
    "sms-stop": "Patient texted STOP",
    "sms-start": "Patient texted START",
    "twilio-21610": "Carrier: the number opted out (Twilio 21610)",
    "email-unsubscribe": "Patient unsubscribed from email",
    "hl7": "EHR feed (HL7)",
    "intake-form": "Intake form",
}


def source_words(source: str | None) -> str:
    """A ledger source as staff read it; a source no door names here is shown as stored."""
    return SOURCE_WORDS.get(source or "", source or "")


NOTICE = "unencrypted-notice-v1"  # "SMS and email are not encrypted", as the API's example
REASON_MAX = 200


@dataclass(frozen=True)
class Decision:
    channel: str
    granted: bool
    source: str
    reason: str
    notice: str


def parse(form: dict[str, Any], patient: Patient) -> tuple[Decision | None, dict[str, str]]:
    """The decision a posted consent form asks for, or the problems keyed by field."""
    errors: dict[str, str] = {}
    channel = str(form.get("channel", ""))
    decision = str(form.get("decision", ""))
    source = str(form.get("source", ""))
    reason = str(form.get("reason", "")).strip()
    if channel not in dict(CHANNELS):
        errors["channel"] = "choose SMS or email"
    if decision not in ("grant", "withdraw"):
        errors["decision"] = "choose whether the patient agrees or refuses"
    if source not in dict(SOURCES):
        errors["source"] = "say how the patient told you"
    if not reason:
        errors["reason"] = "required: in your words, what the patient said and when"
    elif len(reason) > REASON_MAX:
        errors["reason"] = f"at most {REASON_MAX} characters (got {len(reason)})"
    granted = decision == "grant"
    if granted and channel in dict(CHANNELS) and not patient.address(channel):
        errors["channel"] = f"the patient has no {'phone' if channel == 'sms' else 'email'}"
    if granted and not form.get("notice"):
        errors["notice"] = "required: tell the patient texts and emails are not encrypted"
    if errors:
        return None, errors
    return Decision(channel, granted, source, reason, NOTICE if granted else ""), {}


def held(current: dict[str, Current | None]) -> dict[str, str]:
    """Per channel, why it is the patient's own opt-out ("patient texted STOP on ..."), if it is."""
    return {channel: why for channel, c in current.items() if (why := held_by_patient(c))}
