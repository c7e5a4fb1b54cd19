"""What applying one message did: the state its journal row takes and why (fields, no values)."""

from __future__ import annotations

from dataclasses import dataclass

from engage.store.hl7 import Hl7State

ACTOR = "hl7"  # the audit trail's actor for everything the feed changes


@dataclass(frozen=True)
class Outcome:
    state: Hl7State
    reason: str = ""

    @staticmethod
    def applied(reason: str) -> Outcome:
        return Outcome(Hl7State.APPLIED, reason)

    @staticmethod
    def ignored(reason: str) -> Outcome:
        return Outcome(Hl7State.IGNORED, reason)
