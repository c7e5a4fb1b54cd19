"""What one valid row does to the store: create, update, leave alone or reject, never merge."""

from __future__ import annotations

from engage.patients.matching import Stored, StoredIndex, decide
from engage.patients.rows import PatientRow

ANA = {
    "external_ref": "P-1",
    "first_name": "Ana",
    "last_name": "Ruiz",
    "phone": "+14155552671",
    "email": "ana@example.org",
    "timezone": "America/Chicago",
    "locale": "en",
    "preferred_channel": "sms",
}
STORED_ANA = Stored(1, dict(ANA), {"sms": True})


def row(**cells: str | bool | None) -> PatientRow:
    return PatientRow.model_validate(ANA | cells)


def given(**extra: str) -> set[str]:
    return set(ANA) | set(extra)


def test_a_row_matching_nobody_creates_a_patient_with_only_the_consents_it_states() -> None:
    decision = decide(row(sms_consent="yes"), given(sms_consent="yes"), StoredIndex([]))
    assert decision.kind == "create"
    assert decision.changes["phone"] == "+14155552671"
    assert decision.consents == {"sms": True}


def test_a_row_equal_to_the_stored_patient_changes_nothing() -> None:
    decision = decide(row(sms_consent="yes"), given(sms_consent="yes"), StoredIndex([STORED_ANA]))
    assert (decision.kind, decision.patient_id) == ("unchanged", 1)


def test_a_changed_field_is_the_only_change() -> None:
    decision = decide(row(last_name="Ruiz-Soto"), given(), StoredIndex([STORED_ANA]))
    assert (decision.kind, decision.changes, decision.consents) == (
        "update",
        {"last_name": "Ruiz-Soto"},
        {},
    )


def test_a_blank_cell_never_clears_a_stored_value() -> None:
    cells = given() - {"email"}
    decision = decide(row(email=None), cells, StoredIndex([STORED_ANA]))
    assert decision.kind == "unchanged"


def test_a_row_without_external_ref_matches_on_phone_then_email() -> None:
    by_email = Stored(2, {**ANA, "external_ref": None, "phone": None, "preferred_channel": "email"})
    cells = {"external_ref": "", "phone": "", "preferred_channel": "email"}
    decision = decide(row(**cells), given() - {"external_ref", "phone"}, StoredIndex([by_email]))
    assert (decision.kind, decision.patient_id) == ("unchanged", 2)


def test_keys_owned_by_two_different_patients_are_a_conflict() -> None:
    other = Stored(2, {**ANA, "external_ref": "P-2", "phone": "+12125550199", "email": None})
    decision = decide(row(phone="+12125550199"), given(), StoredIndex([STORED_ANA, other]))
    assert (decision.kind, decision.problem) == ("reject", "phone: already belongs to patient 2")


def test_a_phone_match_with_another_external_ref_is_a_conflict() -> None:
    decision = decide(row(external_ref="P-9"), given(), StoredIndex([STORED_ANA]))
    assert decision.kind == "reject"
    assert decision.problem == "external_ref: matches patient 1, whose external_ref differs"
