"""Consent from the feed, only where the clinic configured which field carries it.

Without an `hl7.consent` entry the feed grants nothing. With one, a stated consent is recorded
only for a channel the patient has no consent record on (source `hl7`, in the audit log): the
feed never reverses a patient's opt-out nor any earlier decision, whoever made it.
"""

from __future__ import annotations

import functools
from datetime import datetime

import hl7
from sqlalchemy.orm import Session

from engage.consent import service
from engage.hl7.fields import segment, value
from engage.hl7.outcome import ACTOR
from engage.schedule.hl7 import Hl7Feed
from engage.store.patients import Patient

SOURCE = "hl7"
# The one decision the feed ever records: a grant, by the feed, on the clinic's field.
_grant = functools.partial(
    service.change, granted=True, source=SOURCE, actor=ACTOR, origin=service.Origin.FEED
)


def stated(message: hl7.Message, feed: Hl7Feed) -> list[str]:
    """Channels whose configured field says the patient consented (pure)."""
    channels: list[str] = []
    for channel, rule in feed.consent.items():
        name, _, position = rule.field.partition("-")
        number, _, component = position.partition(".")
        found = segment(message, name)
        if found is None:
            continue
        text = value(found, int(number), 1, int(component or 1))
        if text and text.casefold() in {v.casefold() for v in rule.values}:
            channels.append(channel)
    return channels


def grant_new(patient: Patient, channels: list[str], session: Session, now: datetime) -> list[str]:
    """Record consent on each channel the patient has no record on and can be reached by."""
    granted = []
    for channel in channels:
        if patient.consent(channel) is not None or not patient.address(channel):
            continue
        outcome = _grant(session, patient.id, channel, now=now)
        if outcome.changed:
            granted.append(channel)
    if granted:
        session.expire(patient, ["consents"])
    return granted
