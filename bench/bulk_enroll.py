"""Bulk enrollment: `enroll_csv` of N patients into pre-infusion (one infusion each), PostgreSQL.

The patients (with SMS consent) are generated in the database first; the timed part is the
service reading the CSV and planning, booking and storing every row. CPU is the bench process's
(`time.process_time`, the service runs in it) plus the PostgreSQL backends of this database:
load-independent, where the rate is not on a shared machine.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import sqlalchemy as sa

from bench.procs import ROOT, cpu_seconds
from bench.services import fresh_database
from engage.enrollment.bulk import enroll_csv
from engage.schedule.loader import load_schedule
from engage.store.db import make_engine, session_factory

Progress = Callable[[int, int], None]


@dataclass(frozen=True)
class BulkResult:
    rows: int
    enrolled: int
    rejected: int
    messages: int
    seconds: float
    client_cpu_seconds: float = 0.0
    postgres_cpu_seconds: float = 0.0

    @property
    def per_second(self) -> float:
        return self.enrolled / self.seconds if self.seconds else 0.0

    @property
    def cpu_ms_per_enrollment(self) -> float:
        cpu = self.client_cpu_seconds + self.postgres_cpu_seconds
        return 1000 * cpu / self.enrolled if self.enrolled else 0.0


def measure(folder: Path, progress: Progress, rows: int) -> BulkResult:
    url = fresh_database()
    engine = make_engine(url)
    with engine.begin() as conn:
        conn.execute(
            sa.text(f"""
            INSERT INTO patient (id, external_ref, first_name, last_name, phone, timezone, locale,
                                 preferred_channel, created_at, updated_at)
            SELECT i, 'B-' || i, 'Given' || i, 'Family' || (i % 997), '+1212' || (2000000 + i),
                   'America/New_York', 'en', 'sms', now(), now()
            FROM generate_series(1, {rows}) AS i""")
        )
        conn.execute(
            sa.text(f"""
            INSERT INTO consent (patient_id, channel, granted, changed_at, source, notice)
            SELECT i, 'sms', true, now(), 'bench', '' FROM generate_series(1, {rows}) AS i""")
        )
        conn.execute(
            sa.text(
                "SELECT setval(pg_get_serial_sequence('patient', 'id'), "
                "(SELECT max(id) FROM patient))"
            )
        )
    path = folder / "enroll.csv"
    start = datetime.now(UTC) + timedelta(days=30)
    with path.open("w", encoding="utf-8") as handle:
        handle.write("external_ref,infusion.start\n")
        for i in range(1, rows + 1):
            at = start + timedelta(minutes=15 * (i % 2000))
            handle.write(f"B-{i},{at.isoformat()}\n")
    schedule = load_schedule(ROOT / "schedules.yaml")
    backends = _postgres_cpu(engine)
    cpu = time.process_time()
    started = time.perf_counter()
    report = enroll_csv(
        session_factory(engine),
        schedule,
        path,
        now=datetime.now(UTC),
        actor="bench",
        sequence="pre-infusion",
        on_progress=progress,
    )
    seconds = time.perf_counter() - started
    client = time.process_time() - cpu
    server = sum(t - backends.get(pid, 0.0) for pid, t in _postgres_cpu(engine).items())
    with engine.connect() as conn:
        messages = conn.execute(sa.text("SELECT count(*) FROM message")).scalar_one()
    engine.dispose()
    return BulkResult(rows, report.enrolled, report.rejected, messages, seconds, client, server)


def _postgres_cpu(engine: sa.Engine) -> dict[int, float]:
    """CPU seconds so far of each backend serving this database (the pool keeps them open)."""
    with engine.connect() as conn:
        pids = conn.execute(
            sa.text("SELECT pid FROM pg_stat_activity WHERE datname = current_database()")
        ).scalars()
        return {pid: cpu_seconds(pid) for pid in pids}
