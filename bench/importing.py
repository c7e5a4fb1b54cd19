"""Streaming import: `import_csv` of N valid patients into an empty PostgreSQL database.

Each size runs in a child process of its own (`python -m bench.importing FILE URL`), so its peak
RSS (`ru_maxrss`) is that import's alone, interpreter and libraries included; the issue's
target is <= 200 MB, flat as the file grows (20k, 100k, 500k). CPU is the child's
(`time.process_time`) per patient, which the machine's load does not change.
"""

from __future__ import annotations

import csv
import json
import resource
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from bench.procs import ROOT
from bench.services import fresh_database

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
    peak_mb: float = 0.0
    cpu_seconds: float = 0.0

    @property
    def per_second(self) -> float:
        return self.created / self.seconds if self.seconds else 0.0

    @property
    def cpu_ms_per_patient(self) -> float:
        return 1000 * self.cpu_seconds / self.created if self.created else 0.0


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
    """One size, imported by a child process (the file is written first, untimed)."""
    path = folder / f"patients-{rows}.csv"
    write_csv(path, rows)
    url = fresh_database()
    done = subprocess.run(
        [sys.executable, "-m", "bench.importing", str(path), url],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
        timeout=1800,
    )
    if done.returncode:
        raise RuntimeError(f"import of {rows:,} rows failed: {done.stderr[-2000:]}")
    progress(rows, rows)
    return ImportResult(**json.loads(done.stdout.strip().splitlines()[-1]))


def _child(path: Path, url: str) -> None:
    from engage.patients.importer import import_csv
    from engage.store.db import make_engine, session_factory

    engine = make_engine(url)
    cpu, started = time.process_time(), time.perf_counter()
    report = import_csv(session_factory(engine), path, actor="bench")
    seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
    engine.dispose()
    peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux
    result = {
        "rows": report.rows,
        "created": report.created,
        "rejected": report.rejected,
        "seconds": seconds,
        "peak_mb": peak_kb / 1024,
        "cpu_seconds": cpu,
    }
    print(json.dumps(result))


if __name__ == "__main__":
    _child(Path(sys.argv[1]), sys.argv[2])
