"""Bulk import: `import_csv` of 20,000 valid patients into an empty PostgreSQL database."""

from __future__ import annotations

import csv
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from bench.services import fresh_database
from engage.patients.importer import import_csv
from engage.store.db import make_engine, session_factory

Progress = Callable[[int, int], None]
ZONES = ("America/New_York", "America/Chicago", "America/Denver", "America/Los_Angeles", "UTC")
COLUMNS = (
    "external_ref",
    "first_name",
    "last_name",
    "phone",
    "email",
    "timezone",
    "locale",
    "sms_consent",
    "email_consent",
)


@dataclass(frozen=True)
class ImportResult:
    rows: int
    created: int
    rejected: int
    seconds: float

    @property
    def per_second(self) -> float:
        return self.created / self.seconds


def write_csv(path: Path, rows: int) -> None:
    """`rows` distinct, valid patients: US numbers in 212/646/718, one email each, mixed consent."""
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(COLUMNS)
        for i in range(rows):
            area = ("212", "646", "718")[i % 3]
            writer.writerow(
                (
                    f"B-{i:06d}",
                    f"Given{i}",
                    f"Family{i % 997}",
                    f"({area}) 2{i // 10000 % 10}{i // 1000 % 10}-{i % 10000:04d}",
                    f"patient{i}@example.org",
                    ZONES[i % len(ZONES)],
                    "es" if i % 4 == 0 else "en",
                    "yes" if i % 5 else "no",
                    "yes" if i % 2 else "no",
                )
            )


def measure(folder: Path, progress: Progress, rows: int = 20_000) -> ImportResult:
    path = folder / "patients.csv"
    write_csv(path, rows)
    engine = make_engine(fresh_database())
    started = time.perf_counter()
    report = import_csv(session_factory(engine), path, on_progress=progress, actor="bench")
    seconds = time.perf_counter() - started
    engine.dispose()
    return ImportResult(
        rows=report.rows, created=report.created, rejected=report.rejected, seconds=seconds
    )
