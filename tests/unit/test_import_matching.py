"""What one valid row does to the store: create, update, leave alone or a conflict, never a merge."""

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


def test_a_changed_field_is_the_only_change_and_says_what_it_replaces() -> None:
    decision = decide(row(timezone="America/Denver"), given(), StoredIndex([STORED_ANA]))
    assert (decision.kind, decision.changes, decision.consents, decision.before) == (
        "update",
        {"timezone": "America/Denver"},
        {},
        {"timezone": "America/Chicago"},
    )


def test_another_name_under_the_same_external_ref_is_a_conflict_not_a_rename() -> None:
    # Before: matched on the phone, Ana Ruiz became Maria Lopez and the import said "1 updated".
    decision = decide(row(first_name="Maria"), given(), StoredIndex([STORED_ANA]))
    assert (decision.kind, decision.changes) == ("conflict", {})
    assert decision.problem.startswith("first_name: differs from that of patient 1")


def test_case_and_spacing_do_not_make_another_name() -> None:
    decision = decide(row(first_name=" ANA ", last_name="ruiz"), given(), StoredIndex([STORED_ANA]))
    assert decision.kind == "update" and decision.patient_id == 1


def test_a_blank_cell_never_clears_a_stored_value() -> None:
    cells = given() - {"email"}
    decision = decide(row(email=None), cells, StoredIndex([STORED_ANA]))
    assert decision.kind == "unchanged"


def test_a_row_without_external_ref_matches_the_same_name_on_its_phone_or_email() -> None:
    by_email = Stored(2, {**ANA, "external_ref": None, "phone": None, "preferred_channel": "email"})
    cells = {"external_ref": "", "phone": "", "preferred_channel": "email"}
    decision = decide(row(**cells), given() - {"external_ref", "phone"}, StoredIndex([by_email]))
    assert (decision.kind, decision.patient_id) == ("unchanged", 2)


def test_a_family_member_on_the_same_phone_picks_the_patient_of_the_rows_name() -> None:
    mother = Stored(2, {**ANA, "external_ref": None, "first_name": "Rosa"})
    daughter = Stored(3, {**ANA, "external_ref": None})
    cells = given() - {"external_ref"}
    decision = decide(row(external_ref=""), cells, StoredIndex([mother, daughter]))
    assert (decision.kind, decision.patient_id) == ("unchanged", 3)


def test_a_phone_of_someone_else_without_external_ref_is_a_conflict() -> None:
    decision = decide(
        row(external_ref="", first_name="Maria", last_name="Lopez"),
        given() - {"external_ref"},
        StoredIndex([STORED_ANA]),
    )
    assert (decision.kind, decision.patient_id) == ("conflict", 1)
    assert decision.problem.startswith("phone: belongs to patient 1, of another name")


def test_a_new_external_ref_on_a_shared_phone_is_a_new_patient() -> None:
    decision = decide(
        row(external_ref="P-2", first_name="Luis"), given(), StoredIndex([STORED_ANA])
    )
    assert decision.kind == "create"


def test_a_new_external_ref_adopts_the_same_person_stored_without_one() -> None:
    legacy = Stored(4, {**ANA, "external_ref": None})
    decision = decide(row(external_ref="P-9"), given(), StoredIndex([legacy]))
    assert (decision.kind, decision.patient_id, decision.changes) == (
        "update",
        4,
        {"external_ref": "P-9"},
    )


def test_a_patient_s_own_opt_out_is_kept_with_a_note() -> None:
    stopped = Stored(1, dict(ANA), {"sms": False}, {"sms": "patient texted STOP on 2026-12-01"})
    decision = decide(row(sms_consent="yes"), given(sms_consent="yes"), StoredIndex([stopped]))
    assert (decision.kind, decision.consents) == ("unchanged", {})
    assert decision.notes == ("sms_consent: kept opted out: patient texted STOP on 2026-12-01",)
