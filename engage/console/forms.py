"""Turning a posted form into validated values, with problems keyed by field for the page."""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError

from engage.patients.matching import FIELDS
from engage.patients.rows import PatientRow

PATIENT_FIELDS = FIELDS  # what a patient row sets, as the importer reads it


def patient_values(form: dict[str, Any]) -> tuple[dict[str, Any], dict[str, str]]:
    """The patient fields of `form`, validated as a CSV row is; or the problems by field."""
    given = {key: str(form.get(key, "") or "") for key in PATIENT_FIELDS}
    try:
        row = PatientRow.model_validate(given)
    except ValidationError as exc:
        return {}, field_errors(exc)
    values = row.model_dump(include=set(PATIENT_FIELDS))
    values["preferred_channel"] = row.channel
    return values, {}


def field_errors(exc: ValidationError) -> dict[str, str]:
    errors: dict[str, str] = {}
    for error in exc.errors():
        message = error["msg"].removeprefix("Value error, ")
        field = ".".join(str(part) for part in error["loc"])
        if not field and ":" in message:  # a cross-field problem names its fields first
            field, _, message = message.partition(": ")
            field = field.split(",")[0].strip()
        if error["type"] == "missing" or error["type"] == "string_too_short":
            message = "required"
        errors.setdefault(field or "form", message)
    return errors
