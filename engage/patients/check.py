"""Checking a patients CSV before importing it: each bad row named at its line, nothing stored.

The console's check page shows this; the import itself (engage.patients.importer) applies the
same row rules, so a file that checks clean imports without row errors.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from pydantic import ValidationError

from engage.patients.csvfile import read_records
from engage.patients.rows import PatientRow, problems

KEYS = ("external_ref", "phone", "email")


@dataclass(frozen=True)
class CheckReport:
    rows: int
    valid: int
    problems: tuple[tuple[int, str], ...]  # (line, "field: problem")


def check_csv(path: Path) -> CheckReport:
    """Validate every row of `path` (InvalidInput for a bad header)."""
    _, records = read_records(path)
    found: list[tuple[int, str]] = []
    first_line: dict[tuple[str, object], int] = {}
    valid = 0
    for record in records:
        if record.problem:
            found.append((record.line, record.problem))
            continue
        try:
            row = PatientRow.model_validate(record.cells)
        except ValidationError as exc:
            found += [(record.line, text) for text in problems(exc)]
            continue
        keys = [(key, getattr(row, key)) for key in KEYS if getattr(row, key)]
        clash = next(((key, first_line[key]) for key in keys if key in first_line), None)
        if clash:
            found.append((record.line, f"{clash[0][0]}: same as line {clash[1]}"))
            continue
        first_line.update(dict.fromkeys(keys, record.line))
        valid += 1
    return CheckReport(len(records), valid, tuple(found))
