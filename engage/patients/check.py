"""Checking a patients CSV before importing it: each row's outcome at its line, nothing stored.

The console's check page shows this. Given the store, the check *is* the import as a dry run
(engage.patients.importer, rolled back), so it names conflicts with stored patients and each
field an import would change; without it, only the rows themselves are validated.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from pydantic import ValidationError
from sqlalchemy.orm import Session, sessionmaker

from engage.patients.csvfile import read_records
from engage.patients.importer import RowOutcome, import_csv
from engage.patients.rows import PatientRow, problems

KEYS = ("external_ref", "phone", "email")


@dataclass(frozen=True)
class CheckReport:
    rows: int
    valid: int  # rows the import would apply (created, updated or unchanged)
    problems: tuple[tuple[int, str], ...]  # (line, "field: problem")
    outcomes: tuple[RowOutcome, ...] = ()  # each row's, with field changes (old, new)
    summary: str = ""


def check_csv(path: Path, sessions: sessionmaker[Session] | None = None) -> CheckReport:
    """What importing `path` would do (InvalidInput for a bad header or an unreadable file)."""
    if sessions is None:
        return _rows_only(path)
    report = import_csv(sessions, path, dry_run=True, actor="check")
    found = tuple((outcome.line, text) for outcome in report.outcomes for text in outcome.problems)
    applied = report.created + report.updated + report.unchanged
    return CheckReport(report.rows, applied, found, report.outcomes, report.summary)


def _rows_only(path: Path) -> CheckReport:
    _, records = read_records(path)
    found: list[tuple[int, str]] = []
    valid = 0
    for record in records:
        if record.problem:
            found.append((record.line, record.problem))
            continue
        try:
            PatientRow.model_validate(record.cells)
        except ValidationError as exc:
            found += [(record.line, text) for text in problems(exc)]
            continue
        valid += 1
    return CheckReport(len(records), valid, tuple(found))
