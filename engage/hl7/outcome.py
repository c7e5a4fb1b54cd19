"""What applying one message did: the state its journal row takes and why (fields, no values)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from engage.store.hl7 import Hl7State

ACTOR = "hl7"  # the audit trail's actor for everything the feed changes


@dataclass(frozen=True)
class Link:
    """What an applied SIU records for its appointment (`hl7_appointment`), written once the
    journal row it names exists (`engage.hl7.siu.write_link`)."""

    link_id: int | None  # None: the filler's appointment is new to engage
    filler_id: str
    patient_id: int
    appointment_id: int | None  # None: keep the one it had
    status: str
    version: datetime  # MSH-7
    at: datetime


@dataclass(frozen=True)
class Outcome:
    state: Hl7State
    reason: str = ""
    link: Link | None = None

    @staticmethod
    def applied(reason: str) -> Outcome:
        return Outcome(Hl7State.APPLIED, reason)

    @staticmethod
    def ignored(reason: str) -> Outcome:
        return Outcome(Hl7State.IGNORED, reason)
