"""Bulk patient import and bulk enrollment over HTTP: the CLI's services, per-row errors and all.

The upload is written to a private temporary file named like the upload, so that problems
read `patients.csv:LINE: field: problem`, exactly as `engage import` prints them.
"""

from __future__ import annotations

import re
import shutil
import tempfile
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends, UploadFile
from pydantic import BaseModel
from sqlalchemy.orm import Session, sessionmaker

from engage.api import deps, errors
from engage.api.auth import Principal, require_role
from engage.enrollment.bulk import enroll_csv
from engage.errors import InvalidInput
from engage.patients.importer import import_csv
from engage.schedule.models import Schedule

router = APIRouter(tags=["imports"], responses=errors.responses(400, 401, 403))
Staff = Annotated[Principal, Depends(require_role("staff"))]
Sessions = Annotated[sessionmaker[Session], Depends(deps.sessions)]
Now = Annotated[Any, Depends(deps.now)]
Plans = Annotated[Schedule, Depends(deps.schedule)]
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


class ImportOut(BaseModel):
    created: int
    updated: int
    unchanged: int
    rejected: int
    problems: list[str]
    summary: str


_MAX_NAME = 60  # the audit row's entity_id is 64 characters: a longer name failed after the import


def _safe_name(filename: str | None) -> str:
    name = _UNSAFE.sub("_", Path(filename or "").name).strip("._")
    if len(name) > _MAX_NAME:
        suffix = Path(name).suffix[:8]
        name = name[: _MAX_NAME - len(suffix)] + suffix
    return name or "upload.csv"


@router.post("/imports/patients", response_model=ImportOut, responses=errors.responses(422))
def import_patients(file: UploadFile, who: Staff, sessions: Sessions, now: Now) -> Any:
    """Create or update patients from a CSV (the same columns as `engage import`)."""
    with tempfile.TemporaryDirectory(prefix="engage-import-") as folder:
        path = Path(folder) / _safe_name(file.filename)
        with path.open("wb") as target:
            shutil.copyfileobj(file.file, target)
        try:
            report = import_csv(sessions, path, actor=who.actor, now=now)
        except InvalidInput as exc:
            return errors.invalid(["body", "file"], str(exc))
    return ImportOut(
        created=report.created,
        updated=report.updated,
        unchanged=report.unchanged,
        rejected=report.rejected,
        problems=list(report.problems),
        summary=report.summary,
    )


class BulkEnrollOut(BaseModel):
    enrolled: int
    rejected: int
    problems: list[str]
    summary: str


@router.post("/imports/enrollments", response_model=BulkEnrollOut, responses=errors.responses(422))
def import_enrollments(
    file: UploadFile, who: Staff, sessions: Sessions, schedule: Plans, now: Now, sequence: str = ""
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
