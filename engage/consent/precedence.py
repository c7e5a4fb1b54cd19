"""Who may reverse which consent decision (pure rules, no storage).

A patient's own opt-out (STOP and its synonyms, Twilio 21610, an email unsubscribe, a bounce,
a spam report) is reversed only by the patient (START / UNSTOP, re-subscribing) or by staff
recording new express consent with its source, reason and who. An import, a PATCH, the HL7 feed
or any other writer never re-opens it. A change carried by an inbound event older than the
latest decision on that channel never overrides it (a replayed or late webhook).

Ordering, when an event carries no time of its own: Twilio's inbound SMS webhook has no event
timestamp, so STOP / START / HELP are ordered by their receipt (the last received wins; a
replay of a MessageSid already recorded changes nothing; a delivery first received late, say
after our 5xx, counts when received). A 21610 status callback is dated by the send it answers
(the message's sending time): a START received after that send stands. SendGrid events carry a
signed timestamp and are judged by it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import Enum

# Sources that record the patient's own "no", and how the patient said it (for reports).
PATIENT_OPT_OUTS = {
    "sms-stop": "patient texted STOP",
    "twilio-21610": "patient's number blocks us (Twilio 21610: STOP)",
    "email-unsubscribe": "patient unsubscribed from email",
    "sendgrid-unsubscribe": "patient unsubscribed from email",
    "sendgrid-bounce": "patient's email bounced",
    "sendgrid-spamreport": "patient reported our email as spam",
}
# Sources that record the patient's own "yes again".
PATIENT_OPT_INS = frozenset({"sms-start", "email-resubscribe"})


class Origin(Enum):
    """Who is asking for the change: only PATIENT and EXPRESS may reverse a patient's opt-out."""

    PATIENT = "patient"  # the patient's own message or click
    EXPRESS = "express"  # staff recording new express consent with source, reason and actor
    STAFF = "staff"  # a plain staff change (PUT without the express fields, PATCH)
    IMPORT = "import"  # a CSV import
    FEED = "feed"  # the HL7 feed
    SYSTEM = "system"  # demo data, provider errors the patient did not cause


@dataclass(frozen=True)
class Current:
    """The stored decision on one channel."""

    granted: bool
    source: str
    changed_at: datetime


@dataclass(frozen=True)
class Verdict:
    apply: bool
    reason: str = ""  # why not, when refused: `kept opted out: patient texted STOP on 2026-12-01`


def held_by_patient(current: Current | None) -> str:
    """Why `current` is the patient's own opt-out, or "" when it is not one."""
    if current is None or current.granted or current.source not in PATIENT_OPT_OUTS:
        return ""
    return f"{PATIENT_OPT_OUTS[current.source]} on {current.changed_at.date().isoformat()}"


def judge(
    current: Current | None,
    *,
    granted: bool,
    origin: Origin,
    occurred_at: datetime | None = None,
) -> Verdict:
    """May a change to `granted`, asked by `origin`, be applied over `current`?"""
    if current is not None and occurred_at is not None and occurred_at < current.changed_at:
        return Verdict(False, "stale: a newer decision on this channel stands")
    held = held_by_patient(current)
    if granted and held and origin not in (Origin.PATIENT, Origin.EXPRESS):
        return Verdict(False, f"kept opted out: {held}")
    return Verdict(True)
