"""Deciding what one valid CSV row does to the store: create, update, leave alone, or a conflict.

Pure: stored patients come in as `Stored` values. Identity is explicit:
- a row with an external_ref (MRN) is the patient stored under it, whose name must be the row's:
  another name is a conflict, never a rename (the importer once turned Ana Reyes into Maria
  Lopez); an unknown ref adopts a stored patient without a ref only when name and phone or email
  agree, else it is a new patient, even on a phone another patient uses (families share one);
- a row without one is the stored patient of the same name on its phone or email; a phone or
  email used only by patients of other names is a conflict for staff (a family member, or a
  mistake: the file cannot say which), as is one used by two patients of that name.
A blank cell never clears a stored value (exports often leave columns empty). A consent the
patient withdrew themselves (STOP, unsubscribe, ...) is never re-opened by a row: the decision
carries a note saying so instead.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Literal

from engage.patients.rows import PatientRow

KEYS = ("external_ref", "phone", "email")
CONTACTS = ("phone", "email")
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
NAMES = ("first_name", "last_name")
CONSENT_CHANNELS = ("sms", "email")
Kind = Literal["create", "update", "unchanged", "conflict"]


@dataclass(frozen=True)
class Stored:
    """A stored patient as the importer compares it: its columns and its consent by channel."""

    id: int
    fields: dict[str, object]
    consents: dict[str, bool] = field(default_factory=dict)
    # Channels closed by the patient's own opt-out, with why: an import never re-opens them.
    held: dict[str, str] = field(default_factory=dict)

    @property
    def name(self) -> tuple[str, str]:
        return name_key(str(self.fields["first_name"]), str(self.fields["last_name"]))


@dataclass(frozen=True)
class Decision:
    kind: Kind
    patient_id: int | None = None
    changes: dict[str, object] = field(default_factory=dict)  # patient columns to write
    consents: dict[str, bool] = field(default_factory=dict)  # consents to write, by channel
    before: dict[str, object] = field(default_factory=dict)  # the stored values they replace
    problem: str = ""  # a conflict: `field: why`
    notes: tuple[str, ...] = ()  # what the row asked for and did not get, and why


def name_key(first: str, last: str) -> tuple[str, str]:
    """A name as identity compares it: case and runs of spaces do not make another person."""
    return (" ".join(first.split()).casefold(), " ".join(last.split()).casefold())


class StoredIndex:
    """Stored patients by external_ref, and every patient on each phone and email."""

    def __init__(self, patients: Iterable[Stored]) -> None:
        self.by_ref: dict[object, Stored] = {}
        self.by_contact: dict[tuple[str, object], list[Stored]] = {}
        for patient in patients:
            if (ref := patient.fields.get("external_ref")) is not None:
                self.by_ref[ref] = patient
            for key in CONTACTS:
                if (value := patient.fields.get(key)) is not None:
                    self.by_contact.setdefault((key, value), []).append(patient)

    def sharing(self, row: PatientRow) -> list[tuple[str, Stored]]:
        """(key, patient) for each stored patient on the row's phone or email."""
        found: list[tuple[str, Stored]] = []
        for key in CONTACTS:
            for patient in self.by_contact.get((key, getattr(row, key)), []):
                if all(patient is not other for _, other in found):
                    found.append((key, patient))
        return found


def decide(row: PatientRow, given: set[str], index: StoredIndex) -> Decision:
    """What to do with `row`, whose non-blank cells are the columns in `given`."""
    if row.external_ref is not None:
        match = index.by_ref.get(row.external_ref)
        if match is not None and match.name != name_key(row.first_name, row.last_name):
            field_name = next(
                n for n, a, b in zip(NAMES, match.name, _name(row), strict=True) if a != b
            )
            return Decision(
                "conflict",
                match.id,
                problem=f"{field_name}: differs from that of patient {match.id}, stored under "
                f"external_ref {row.external_ref}: a conflict for staff, not applied",
            )
        match = match or _adoptable(row, index)
    else:
        found = _by_contact(row, index)
        if isinstance(found, Decision):
            return found
        match = found
    if match is None:
        return Decision("create", changes=_fields(row), consents=_consents(row, given))
    return _update(row, given, match)


def _name(row: PatientRow) -> tuple[str, str]:
    return name_key(row.first_name, row.last_name)


def _adoptable(row: PatientRow, index: StoredIndex) -> Stored | None:
    """A stored patient without a ref, of the row's name, on its phone or email: the same one."""
    same = [
        patient
        for _, patient in index.sharing(row)
        if patient.fields.get("external_ref") is None and patient.name == _name(row)
    ]
    return same[0] if len(same) == 1 else None


def _by_contact(row: PatientRow, index: StoredIndex) -> Stored | Decision | None:
    sharing = index.sharing(row)
    same = [(key, patient) for key, patient in sharing if patient.name == _name(row)]
    if len(same) == 1:
        return same[0][1]
    if same:
        key = same[0][0]
        ids = ", ".join(str(patient.id) for _, patient in same)
        return Decision(
            "conflict",
            problem=f"{key}: patients {ids} have this name and {key}: "
            "give the row an external_ref to say which",
        )
    if sharing:
        key, other = sharing[0]
        return Decision(
            "conflict",
            other.id,
            problem=f"{key}: belongs to patient {other.id}, of another name: a conflict for "
            "staff, not applied (give the row an external_ref to add a family member)",
        )
    return None


def _update(row: PatientRow, given: set[str], match: Stored) -> Decision:
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
    before: dict[str, object] = {k: match.fields.get(k) for k in changes}
    before |= {f"{c}_consent": match.consents.get(c) for c in consents}
    kind: Kind = "update" if changes or consents else "unchanged"
    return Decision(kind, match.id, changes, consents, before, notes=notes)


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
