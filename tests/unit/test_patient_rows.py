"""A CSV row is validated at the edge: E.164 phones, normalised emails, yes/no consent."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from engage.patients.rows import (
    Normalised,
    PatientRow,
    normalize_email,
    normalize_phone,
    problems,
)

BASE = {"first_name": "Ana", "last_name": "Ruiz", "timezone": "America/Chicago"}


def row(**cells: str) -> PatientRow:
    return PatientRow.model_validate(BASE | cells)


def problems_of(**cells: str) -> list[str]:
    with pytest.raises(ValidationError) as caught:
        row(**cells)
    return problems(caught.value)


@pytest.mark.parametrize(
    ("text", "e164"),
    [
        ("(415) 555-2671", "+14155552671"),
        ("415.555.2671", "+14155552671"),
        ("+1 212 555 0199", "+12125550199"),
        ("+44 20 7946 0958", "+442079460958"),
        ("+52 55 1234 5678", "+525512345678"),
    ],
)
def test_phone_numbers_are_stored_in_e164_reading_national_ones_as_us(text: str, e164: str) -> None:
    assert normalize_phone(text) == e164


@pytest.mark.parametrize("text", ["12345", "555-0000", "call me", "+1 415 555 26711"])
def test_invalid_phone_numbers_are_refused_without_echoing_them(text: str) -> None:
    with pytest.raises(ValueError) as caught:
        normalize_phone(text)
    assert text not in str(caught.value)


def test_emails_are_normalised_to_lower_case() -> None:
    assert normalize_email("  Ana.Ruiz@Example.ORG") == "ana.ruiz@example.org"


def test_an_invalid_email_names_the_problem() -> None:
    assert problems_of(email="ana@", phone="") == [
        "email: not a valid email address: There must be something after the @-sign."
    ]


@pytest.mark.parametrize(
    ("cell", "granted"),
    [
        ("yes", True),
        ("Y", True),
        ("true", True),
        ("1", True),
        ("no", False),
        ("0", False),
        ("", False),
    ],
)
def test_consent_cells_read_yes_no_true_false_and_one_zero(cell: str, granted: bool) -> None:
    assert row(phone="4155552671", sms_consent=cell).sms_consent is granted


def test_an_unreadable_consent_cell_is_a_problem_not_a_no() -> None:
    assert problems_of(phone="4155552671", sms_consent="maybe") == [
        "sms_consent: expected yes/no, true/false or 1/0, not 'maybe'"
    ]


def test_blank_required_cells_are_reported_as_required() -> None:
    assert problems_of(first_name="", last_name="  ", phone="4155552671") == [
        "first_name: required",
        "last_name: required",
    ]


def test_a_patient_needs_somewhere_to_be_reached() -> None:
    assert problems_of() == ["phone, email: a patient needs a phone or an email"]


def test_consent_for_a_channel_without_an_address_is_refused() -> None:
    assert problems_of(email="a@example.org", sms_consent="yes") == [
        "sms_consent: yes, but there is no phone"
    ]


def test_the_preferred_channel_defaults_to_the_one_the_row_can_reach() -> None:
    assert row(phone="4155552671", email="a@example.org").channel == "sms"
    assert row(email="a@example.org").channel == "email"
    assert row(phone="4155552671", preferred_channel="EMAIL", email="a@x.org").channel == "email"


def test_an_unknown_zone_and_locale_are_named() -> None:
    assert problems_of(phone="4155552671", timezone="Central", locale="fr") == [
        "timezone: unknown time zone 'Central': expected a city such as Chicago or an IANA "
        "name such as America/New_York",
        "locale: Input should be 'en' or 'es'",
    ]


def test_blank_optional_cells_are_absent_values() -> None:
    blank = row(phone="4155552671", email="", external_ref=" ", preferred_channel="")
    assert (blank.email, blank.external_ref, blank.preferred_channel) == (None, None, None)


def test_an_over_long_external_ref_is_refused() -> None:
    assert problems_of(phone="4155552671", external_ref="x" * 65) == [
        "external_ref: String should have at most 64 characters"
    ]


def test_one_imports_remembered_phones_and_emails_give_each_row_what_parsing_would() -> None:
    # The importer parses a shared phone or email once per file: every repeat, of a valid
    # value or of a refused one, must get what parsing it afresh gives, past the bound too.
    normalised = Normalised()
    normalised.LIMIT = 3
    cells = [
        {"phone": "(415) 555-2671"},
        {"phone": "555-0000"},
        {"email": "Ana@Example.ORG"},
        {"email": "not-an-email"},
    ]
    for _ in range(3):
        for given in cells:
            try:
                expected: object = PatientRow.model_validate(BASE | given)
            except ValidationError as exc:
                expected = problems(exc)
            try:
                got: object = PatientRow.model_validate(BASE | given, context=normalised)
            except ValidationError as exc:
                got = problems(exc)
            assert got == expected
    assert len(normalised.found) <= normalised.LIMIT
