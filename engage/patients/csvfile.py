"""Reading a patients CSV: header checks, and each record with the file line it starts on.

Line numbers are the file's own (header = line 1), counting lines inside quoted multi-line cells,
so an error can be found with any editor's "go to line".
"""

from __future__ import annotations

import _csv
import csv
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from engage.errors import InvalidInput
from engage.patients.rows import PatientRow

COLUMNS = tuple(PatientRow.model_fields)
REQUIRED = tuple(name for name, field in PatientRow.model_fields.items() if field.is_required())


@dataclass(frozen=True)
class Record:
    """One data row: where it starts in the file, and its non-empty cells by column."""

    line: int
    cells: dict[str, str]
    overflow: int = 0  # cells beyond the header's columns (a stray comma)

    @property
    def problem(self) -> str | None:
        if self.overflow:
            return f"row: {self.overflow} more cell(s) than the header has columns"
        return None


def read_records(path: Path) -> tuple[tuple[str, ...], list[Record]]:
    """The header's columns and every data row; a bad header or encoding is a InvalidInput."""
    where = f"{path.name}:1"
    try:
        with path.open(newline="", encoding="utf-8-sig") as handle:
            reader = csv.reader(handle)
            header = tuple(cell.strip().lower() for cell in next(reader, []))
            _check_header(header, where)
            return header, list(_records(reader, header))
    except UnicodeDecodeError as exc:
        raise InvalidInput(
            where, f"not UTF-8 text (byte {exc.start}): save the file as UTF-8"
        ) from None
    except csv.Error as exc:
        raise InvalidInput(where, f"not a readable CSV file: {exc}") from None


def _check_header(header: tuple[str, ...], where: str) -> None:
    if not header:
        raise InvalidInput(where, "empty file: expected a header row")
    unknown = [name for name in header if name not in COLUMNS]
    if unknown:
        raise InvalidInput(
            where, f"unknown column {unknown[0]!r}: expected some of {', '.join(COLUMNS)}"
        )
    missing = [name for name in REQUIRED if name not in header]
    if missing:
        raise InvalidInput(where, f"missing column {missing[0]!r}")
    duplicated = sorted({name for name in header if header.count(name) > 1})
    if duplicated:
        raise InvalidInput(where, f"column {duplicated[0]!r} appears twice")


def _records(reader: _csv.Reader, header: tuple[str, ...]) -> Iterator[Record]:
    line = 2
    for cells in reader:
        start, line = line, reader.line_num + 1
        if not any(cell.strip() for cell in cells):
            continue
        overflow = max(0, len(cells) - len(header))
        yield Record(start, dict(zip(header, cells, strict=False)), overflow)
