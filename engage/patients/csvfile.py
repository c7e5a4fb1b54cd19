"""Reading a patients CSV: header checks, and each record with the file line it starts on.

Line numbers are the file's own (header = line 1), counting lines inside quoted multi-line cells,
so an error can be found with any editor's "go to line". Parsing is strict (an unclosed quote
is an error at the line it opens, not a cell swallowing the rest of the file) and streaming:
records are read one at a time, so a 100,000-row file is never held in memory whole.
"""

from __future__ import annotations

import _csv
import csv
import difflib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from engage.errors import InvalidInput
from engage.patients.rows import PatientRow

COLUMNS = tuple(PatientRow.model_fields)
REQUIRED = tuple(name for name, field in PatientRow.model_fields.items() if field.is_required())
_CHUNK = 1 << 20


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


@contextmanager
def open_records(path: Path) -> Iterator[tuple[tuple[str, ...], Iterator[Record]]]:
    """The header's columns and an iterator of data rows, read as they are asked for.

    A bad header, a byte that is not UTF-8 or a malformed CSV record raises InvalidInput naming
    the file and line, when it is reached: a caller writing as it reads must roll back.
    """
    with path.open(newline="", encoding="utf-8-sig") as handle:
        reader = csv.reader(handle, strict=True)
        with _named_errors(path, 1):
            header = tuple(cell.strip().lower() for cell in next(reader, []))
        _check_header(header, f"{path.name}:1")
        yield header, _records(path, reader, header)


def read_records(path: Path) -> tuple[tuple[str, ...], list[Record]]:
    """The header's columns and every data row (for small files and checks)."""
    with open_records(path) as (header, records):
        return header, list(records)


def count_lines(path: Path) -> int:
    """Data lines in `path` (an upper bound on its rows), for a progress bar: no CSV parsing."""
    lines, last = 0, b"\n"
    with path.open("rb") as handle:
        while chunk := handle.read(_CHUNK):
            lines += chunk.count(b"\n")
            last = chunk[-1:]
    return max(0, lines + (last != b"\n") - 1)


def _check_header(header: tuple[str, ...], where: str) -> None:
    if not header:
        raise InvalidInput(where, "empty file: expected a header row")
    unknown = [name for name in header if name not in COLUMNS]
    if unknown:
        raise InvalidInput(where, _unknown(unknown[0]))
    missing = [name for name in REQUIRED if name not in header]
    if missing:
        raise InvalidInput(where, f"missing column {missing[0]!r}")
    duplicated = sorted({name for name in header if header.count(name) > 1})
    if duplicated:
        raise InvalidInput(where, f"column {duplicated[0]!r} appears twice")


def _unknown(name: str) -> str:
    close = difflib.get_close_matches(name, COLUMNS, n=1, cutoff=0.6)
    hint = f"did you mean {close[0]!r}?" if close else f"expected some of {', '.join(COLUMNS)}"
    return f"unknown column {name!r}: {hint}"


def _records(path: Path, reader: _csv.Reader, header: tuple[str, ...]) -> Iterator[Record]:
    line = 2
    rows = iter(reader)
    while True:
        with _named_errors(path, line):
            cells = next(rows, None)
        if cells is None:
            return
        start, line = line, reader.line_num + 1
        if not any(cell.strip() for cell in cells):
            continue
        overflow = max(0, len(cells) - len(header))
        yield Record(start, dict(zip(header, cells, strict=False)), overflow)


@contextmanager
def _named_errors(path: Path, line: int) -> Iterator[None]:
    """Decoding and CSV errors as InvalidInput at the line where the bad record starts."""
    try:
        yield
    except UnicodeDecodeError:
        # Text is decoded a block ahead of the parser: the bad byte is here or a little after.
        raise InvalidInput(
            f"{path.name}:{line}", "not UTF-8 text at or after this line: save the file as UTF-8"
        ) from None
    except csv.Error as exc:
        raise InvalidInput(f"{path.name}:{line}", _csv_problem(str(exc))) from None


def _csv_problem(message: str) -> str:
    if "unexpected end of data" in message:
        return "unclosed quote: a quoted cell starts here and never ends"
    return f"not a readable CSV record: {message}"
