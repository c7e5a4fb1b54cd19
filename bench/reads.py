"""Reads staff and operators make, on a clinic group's database (1M patients, 10M messages).

The database is generated inside PostgreSQL with `generate_series` (minutes, not hours), kept
as `engage_reads` for the phase's reads, and analysed once. Each read is called a few hundred
times with realistic, varied parameters; p99 is reported, and the three slowest reads' plans are
kept (EXPLAIN ANALYZE) for docs/benchmarks.md.
"""

from __future__ import annotations

import hashlib
import inspect
import os
import random
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import sqlalchemy as sa
from prometheus_client import CollectorRegistry, generate_latest
from sqlalchemy.orm import Session, sessionmaker

from bench.procs import ENGAGE, ROOT
from bench.project import engage_env
from bench.services import (
    BROKER,
    copy_database,
    database_note,
    database_url,
    fresh_database,
    note_database,
    settle,
)
from bench.stats import percentile
from engage.asgi import freeze_startup_heap
from engage.ops.failed import FailedFilter, _query, list_failed
from engage.ops.metrics_scrape import OutboxCollector
from engage.patients.records import find
from engage.rendering.environment import make_environment
from engage.schedule.loader import load_schedule
from engage.store.db import make_engine, session_factory
from engage.store.migrate import head, upgrade
from engage.timeline.service import patient_timeline

DATABASE = "engage_reads"
KEPT = "engage_reads_kept"  # BENCH_KEEP_READS=1: built once, copied for each run (see `prepare`)
# ~1,100 distinct three-letter stems (Bal-, Ket-, Sor-...): a prefix matches a few hundred to a
# thousand patients in a million, as a common surname's does; the suffix makes names distinct.
LAST = [
    f"{a}{v}{c}{end}"
    for a in "BCDFGHKLMNPRSTW"
    for v in "aeiou"
    for c in "bcdfglmnprstvwz"
    for end in ("er",)
]
FIRST = ["Ana", "Ben", "Cy", "Dara", "Eli", "Fatima", "Gus", "Hana", "Ivan", "Jo", "Kemal", "Lia"]
Progress = Callable[[int, int], None]


@dataclass
class ReadResult:
    patients: int
    messages: int
    build_seconds: float
    copied: bool = False  # copied from BENCH_KEEP_READS's kept build: build_seconds is the copy
    p99_ms: dict[str, float] = field(default_factory=dict)
    p50_ms: dict[str, float] = field(default_factory=dict)
    plans: dict[str, str] = field(default_factory=dict)


def _build(url: str, patients: int, per_patient: int) -> None:
    engine = sa.create_engine(url)
    last = "ARRAY[" + ",".join(f"'{n}'" for n in LAST) + "]"
    first = "ARRAY[" + ",".join(f"'{n}'" for n in FIRST) + "]"
    with engine.begin() as conn:
        conn.execute(
            sa.text(f"""
            INSERT INTO patient (id, external_ref, first_name, last_name, phone, email, timezone,
                                 locale, preferred_channel, created_at, updated_at)
            SELECT i, 'R-' || i, ({first})[1 + i % {len(FIRST)}],
                   ({last})[1 + (i::bigint * 7919) % {len(LAST)}] || (i % 1000),
                   '+1212' || (2000000 + i), 'p' || i || '@example.org',
                   'America/New_York', 'en', 'sms', now(), now()
            FROM generate_series(1, {patients}) AS i""")
        )
        conn.execute(
            sa.text(f"""
            INSERT INTO enrollment (id, patient_id, sequence, state, reason, enrolled_at,
                                    created_at, updated_at)
            SELECT i, i, 'pre-infusion', 'active', '', now() - interval '30 days', now(), now()
            FROM generate_series(1, {patients}) AS i""")
        )
        conn.execute(
            sa.text(f"""
            INSERT INTO message (patient_id, enrollment_id, sequence, step_id, event_key,
                                 occurrence, channel, template, critical, due_at, state, reason,
                                 attempts, created_at, updated_at, sent_at)
            SELECT p, p, 'pre-infusion', 'step-' || k, 'enrolled', 1, 'sms', 'pre-infusion/x',
                   false, now() + (k - {per_patient // 2}) * interval '3 days',
                   CASE WHEN (p + k) % 200 = 0 THEN 'failed'
                        WHEN k > {per_patient // 2} THEN 'scheduled' ELSE 'delivered' END,
                   'bench', 1, now() - interval '30 days', t, CASE WHEN k > {per_patient // 2}
                   AND (p + k) % 200 <> 0 THEN NULL ELSE t - interval '2 seconds' END
            FROM generate_series(1, {patients}) AS p, generate_series(1, {per_patient}) AS k,
                 LATERAL (SELECT now() - ((p * 7 + k) % 43200) * interval '1 minute' AS t) AS u""")
        )
        # Every message past scheduled has the event that took it there (what `engage status`
        # and /metrics count over their window): about half the outbox, over 30 days.
        conn.execute(
            sa.text("""
            INSERT INTO message_event (message_id, at, from_state, to_state, reason, actor)
            SELECT id, updated_at, 'sent', state,
                   CASE WHEN state = 'failed' THEN 'provider error ' || (id % 7) ELSE '' END,
                   CASE WHEN state = 'failed' THEN 'worker' ELSE 'twilio' END
            FROM message WHERE state <> 'scheduled'""")
        )
        for table in ("patient", "enrollment", "message", "message_event"):
            conn.execute(
                sa.text(
                    f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                    f"(SELECT max(id) FROM {table}))"
                )
            )
    engine.dispose()
    settle(url)


def prepare(patients: int, per_patient: int) -> tuple[str, bool]:
    """A fresh `engage_reads` of these sizes, settled (VACUUM ANALYZE, CHECKPOINT); its URL and
    whether it was copied from a kept build. BENCH_KEEP_READS=1 builds it once as
    `engage_reads_kept` (a name no run drops) and copies that file-wise on later runs (about a
    minute instead of four), rebuilding it when the sizes or `_build` differ and migrating it
    when engage has newer migrations."""
    if not os.environ.get("BENCH_KEEP_READS"):
        url = fresh_database(DATABASE)
        _build(url, patients, per_patient)
        return url, False
    built_by = hashlib.sha256(inspect.getsource(_build).encode()).hexdigest()[:12]
    kind = f"patients={patients} per_patient={per_patient} build={built_by}"
    note = database_note(KEPT) or ""
    copied = note.startswith(kind + " ")
    if not copied:
        _build(fresh_database(KEPT), patients, per_patient)
    elif note != f"{kind} revision={head()}":  # newer migrations: applied as to a clinic's
        upgrade(database_url(KEPT))
        settle(database_url(KEPT))
    note_database(KEPT, f"{kind} revision={head()}")
    return copy_database(KEPT, DATABASE), copied


def _timed(calls: int, fn: Callable[[int], object]) -> list[float]:
    times = []
    for n in range(calls):
        started = time.perf_counter()
        fn(n)
        times.append((time.perf_counter() - started) * 1000)
    return sorted(times)


def _pct(sorted_ms: list[float], q: float) -> float:
    """Nearest rank, as bench.stats.percentile: of 100 calls p99 is the 99th slowest, not the
    slowest (which the index int(q * n) gave: a "p99" of 100 calls was their maximum)."""
    return percentile(sorted_ms, q * 100)


def _reads(sessions: sessionmaker[Session], patients: int) -> dict[str, Callable[[int], object]]:
    rng = random.Random(15)
    schedule = load_schedule(ROOT / "schedules.yaml")
    env = make_environment(ROOT / "templates")

    def in_session(body: Callable[[Session, int], object]) -> Callable[[int], object]:
        def call(n: int) -> object:
            with sessions() as session:
                return body(session, n)

        return call

    def pid() -> int:
        return rng.randint(1, patients)

    registry = CollectorRegistry()
    registry.register(OutboxCollector(sessions))
    return {
        "patient search: name prefix": in_session(
            lambda s, n: find(s, rng.choice(LAST)[: 3 + n % 3], limit=25, offset=0)
        ),
        "patient search: phone": in_session(
            lambda s, n: find(s, _phone(2000000 + pid()), limit=25, offset=0)
        ),
        "patient search: external ref": in_session(
            lambda s, n: find(s, f"R-{pid()}", limit=25, offset=0)
        ),
        "patient timeline": in_session(
            lambda s, n: patient_timeline(s, schedule, env, pid(), with_text=False)
        ),
        "dead-letter list (200 newest)": in_session(lambda s, n: list_failed(s, FailedFilter())),
        "/metrics scrape (collector)": lambda n: generate_latest(registry),
    }


def _plan(engine: sa.Engine, name: str, patients: int) -> str:
    """EXPLAIN ANALYZE of the statement behind a read, for the page."""
    statements = {
        "patient search: name prefix": (
            "SELECT * FROM patient WHERE lower(last_name) LIKE 'smi%' OR lower(first_name) "
            "LIKE 'smi%' ORDER BY last_name, first_name, id LIMIT 25"
        ),
        "patient timeline": f"SELECT * FROM message WHERE patient_id = {patients // 2}",
        "dead-letter list (200 newest)": str(
            _query(FailedFilter()).compile(engine, compile_kwargs={"literal_binds": True})
        ),
    }
    sql = statements.get(name)
    if sql is None:
        return ""
    with engine.connect() as conn:
        rows = conn.execute(sa.text(f"EXPLAIN (ANALYZE, BUFFERS) {sql}")).scalars().all()
    return "\n".join(rows)


def measure(progress: Progress, patients: int, per_patient: int, calls: int) -> ReadResult:
    started = time.perf_counter()
    url, copied = prepare(patients, per_patient)
    result = ReadResult(patients, patients * per_patient, time.perf_counter() - started, copied)
    engine = make_engine(url)
    sessions = session_factory(engine)
    reads = _reads(sessions, patients)
    freeze_startup_heap()  # as the served app does once it is built (engage.asgi)
    for n, (name, fn) in enumerate(reads.items()):
        fn(0)  # warm caches and the connection pool
        ms = _timed(calls if "metrics" not in name else max(20, calls // 10), fn)
        result.p99_ms[name], result.p50_ms[name] = _pct(ms, 0.99), _pct(ms, 0.5)
        progress(n + 1, len(reads) + 1)
    status = _timed(5, lambda n: _engage_status(url))
    result.p99_ms["engage status"], result.p50_ms["engage status"] = status[-1], status[2]
    slowest = sorted(result.p99_ms, key=lambda k: result.p99_ms[k] / _target(k), reverse=True)
    for name in slowest[:3]:
        result.plans[name] = _plan(engine, name, patients) or "(no single statement)"
    engine.dispose()
    progress(len(reads) + 1, len(reads) + 1)
    return result


TARGETS_MS = {
    "patient search": 20.0,
    "patient timeline": 30.0,
    "dead-letter": 50.0,
    "/metrics": 500.0,
    "engage status": 1000.0,
}


def _target(name: str) -> float:
    return next(v for k, v in TARGETS_MS.items() if name.startswith(k))


def _engage_status(url: str) -> None:
    env = engage_env(ROOT / "var" / "bench", url, BROKER, "http://127.0.0.1:9")
    subprocess.run(
        [*ENGAGE, "status"],
        cwd=ROOT,
        env={**os.environ, **env},
        capture_output=True,
        check=False,
        timeout=120,
    )


def _phone(digits: int) -> str:
    text = str(digits)
    return f"(212) {text[:3]}-{text[3:]}"
