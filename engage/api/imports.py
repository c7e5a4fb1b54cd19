"""Bulk patient import and bulk enrollment over HTTP: the CLI's services, per-row errors and all.

The upload is written to a private temporary file named like the upload, so that problems
read `patients.csv:LINE: field: problem`, exactly as `engage import` prints them.
"""

from __future__ import annotations

import re
import shutil
import tempfile
from pathlib import Path
from typing import Any

from fastapi import APIRouter, UploadFile
from pydantic import BaseModel, ConfigDict, Field, field_validator

from engage.api import errors
from engage.api.params import Now, Plan, Sessions, Staff
from engage.enrollment.bulk import enroll_csv
from engage.errors import InvalidInput
from engage.patients.importer import import_csv

router = APIRouter(tags=["imports"], responses=errors.responses(400, 401, 403))
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


class FieldChange(BaseModel):
    field: str
    old: str | bool | None
    new: str | bool | None


class RowOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    line: int
    outcome: str = Field(validation_alias="kind")  # create, update, unchanged, conflict, reject
    patient_id: int | None
    changes: list[FieldChange]
    problems: list[str]

    @field_validator("changes", mode="before")
    @classmethod
    def _changes(cls, changes: tuple[tuple[str, object, object], ...]) -> list[FieldChange]:
        # (field, stored value, row's value) triples; values other than text and yes/no as text
        return [FieldChange(field=f, old=_plain(o), new=_plain(n)) for f, o, n in changes]


class ImportOut(BaseModel):
    # An ImportReport (engage.patients.importer) as the API answers it.
    model_config = ConfigDict(from_attributes=True)

    created: int
    updated: int
    unchanged: int
    rejected: int
    conflicts: int
    kept_opted_out: int
    dry_run: bool
    problems: list[str]
    summary: str
    # each row's outcome and field changes: in a dry run (`?dry_run=true`)
    rows: list[RowOut] = Field(validation_alias="outcomes")


_MAX_NAME = 60  # the audit row's entity_id is 64 characters: a longer name failed after the import


def _safe_name(filename: str | None) -> str:
    name = _UNSAFE.sub("_", Path(filename or "").name).strip("._")
    if len(name) > _MAX_NAME:
        suffix = Path(name).suffix[:8]
        name = name[: _MAX_NAME - len(suffix)] + suffix
    return name or "upload.csv"


@router.post("/imports/patients", response_model=ImportOut, responses=errors.responses(422))
def import_patients(
    file: UploadFile, who: Staff, sessions: Sessions, now: Now, dry_run: bool = False
) -> Any:
    """Create or update patients from a CSV (the columns of `engage patients import`).

    `dry_run=true`: nothing is written; `rows` gives each row's outcome and field changes.
    """
    with tempfile.TemporaryDirectory(prefix="engage-import-") as folder:
        path = Path(folder) / _safe_name(file.filename)
        with path.open("wb") as target:
            shutil.copyfileobj(file.file, target)
        try:
            report = import_csv(sessions, path, actor=who.actor, now=now, dry_run=dry_run)
        except InvalidInput as exc:
            return errors.invalid(["body", "file"], str(exc))
    return ImportOut.model_validate(report)


def _plain(value: object) -> str | bool | None:
    return value if value is None or isinstance(value, bool) else str(value)


class BulkEnrollOut(BaseModel):
    enrolled: int
    rejected: int
    problems: list[str]
    summary: str


@router.post("/imports/enrollments", response_model=BulkEnrollOut, responses=errors.responses(422))
def import_enrollments(
    file: UploadFile, who: Staff, sessions: Sessions, schedule: Plan, now: Now, sequence: str = ""
) -> Any:
    """Enroll every row of a CSV (the columns of `engage enroll --csv`); bad rows by line."""
    with tempfile.TemporaryDirectory(prefix="engage-enroll-") as folder:
        path = Path(folder) / _safe_name(file.filename)
        with path.open("wb") as target:
            shutil.copyfileobj(file.file, target)
        try:
            report = enroll_csv(
                sessions, schedule, path, now=now, actor=who.actor, sequence=sequence
            )
        except InvalidInput as exc:
            return errors.invalid(["body", "file"], str(exc))
    return BulkEnrollOut(
        enrolled=report.enrolled,
        rejected=report.rejected,
        problems=list(report.problems),
        summary=report.summary,
    )
