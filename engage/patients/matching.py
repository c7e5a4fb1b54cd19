"""Deciding what one valid CSV row does to the store: create, update, leave alone, or reject.

Pure: stored patients come in as `Stored` values. A row matches a stored patient on external_ref,
else phone, else email; any of its keys owned by a *different* patient is a conflict, never a
silent merge. A blank cell never clears a stored value: exports often leave columns empty.
A consent the patient withdrew themselves (STOP, unsubscribe, ...) is never re-opened by a row:
the decision carries a note saying so instead.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Literal

from engage.patients.rows import PatientRow

KEYS = ("external_ref", "phone", "email")
# Patient columns a row sets; preferred_channel falls back to the channel the row can reach.
FIELDS = (
    "external_ref",
    "first_name",
    "last_name",
    "phone",
    "email",
    "timezone",
    "locale",
    "preferred_channel",
)
CONSENT_CHANNELS = ("sms", "email")


@dataclass(frozen=True)
class Stored:
    """A stored patient as the importer compares it: its columns and its consent by channel."""

    id: int
    fields: dict[str, object]
    consents: dict[str, bool] = field(default_factory=dict)
    # Channels closed by the patient's own opt-out, with why: an import never re-opens them.
    held: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Decision:
    kind: Literal["create", "update", "unchanged", "reject"]
    patient_id: int | None = None
    changes: dict[str, object] = field(default_factory=dict)  # patient columns to write
    consents: dict[str, bool] = field(default_factory=dict)  # consents to write, by channel
    problem: str = ""
    notes: tuple[str, ...] = ()  # what the row asked for and did not get, and why


class StoredIndex:
    """Stored patients by each of their keys."""

    def __init__(self, patients: Iterable[Stored]) -> None:
        self.by_key: dict[str, dict[object, Stored]] = {key: {} for key in KEYS}
        for patient in patients:
            for key in KEYS:
                value = patient.fields.get(key)
                if value is not None:
                    self.by_key[key][value] = patient

    def owner(self, key: str, value: object) -> Stored | None:
        return None if value is None else self.by_key[key].get(value)

    def match(self, row: PatientRow) -> Stored | None:
        for key in KEYS:
            found = self.owner(key, getattr(row, key))
            if found is not None:
                return found
        return None


def decide(row: PatientRow, given: set[str], index: StoredIndex) -> Decision:
    """What to do with `row`, whose non-blank cells are the columns in `given`."""
    match = index.match(row)
    for key in KEYS:
        owner = index.owner(key, getattr(row, key))
        if owner is not None and owner is not match:
            return Decision("reject", problem=f"{key}: already belongs to patient {owner.id}")
    if match is None:
        return Decision("create", changes=_fields(row), consents=_consents(row, given))
    stored_ref = match.fields.get("external_ref")
    if row.external_ref and stored_ref and stored_ref != row.external_ref:
        return Decision(
            "reject",
            problem=f"external_ref: matches patient {match.id}, whose external_ref differs",
        )
    wanted = {k: v for k, v in _fields(row).items() if k in given}
    changes = {k: v for k, v in wanted.items() if match.fields.get(k) != v}
    asked = _consents(row, given)
    notes = tuple(
        f"{channel}_consent: kept opted out: {match.held[channel]}"
        for channel, granted in asked.items()
        if granted and channel in match.held
    )
    consents = {
        channel: granted
        for channel, granted in asked.items()
        if match.consents.get(channel) != granted and not (granted and channel in match.held)
    }
    kind: Literal["update", "unchanged"] = "update" if changes or consents else "unchanged"
    return Decision(kind, match.id, changes, consents, notes=notes)


def _fields(row: PatientRow) -> dict[str, object]:
    values: dict[str, object] = {name: getattr(row, name) for name in FIELDS}
    values["preferred_channel"] = row.channel
    return values


def _consents(row: PatientRow, given: set[str]) -> dict[str, bool]:
    # Only a consent the row states is recorded: a blank cell is not a patient's "no".
    return {
        channel: bool(getattr(row, f"{channel}_consent"))
        for channel in CONSENT_CHANNELS
        if f"{channel}_consent" in given
    }
