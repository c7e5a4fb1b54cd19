"""What a run measures and how big: the issue's sizes by default, small ones for a smoke run.

BENCH_QUICK=1 shrinks everything (a few minutes, to check the harness itself).
BENCH_NAIVE_COUNTS=10000,50000 overrides the naive design's sizes (see `Plan.naive_counts`).
BENCH_ONLY=cli,bulk,reads runs only those phases (names in `PHASES`); BENCH_SCALE=0.01 shrinks
the bulk-enrollment and read phases' sizes (the console phase measures on the reads database).
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from bench.stack import WorkerSpec


@dataclass(frozen=True)
class Plan:
    pool_trial_messages: int = 2_000
    # Each an `engage worker` configuration; the fastest runs the rest. A packed task's provider
    # calls run on the sender's own thread pool, so the pool's concurrency is tasks, not calls.
    pool_trials: tuple[WorkerSpec, ...] = (
        WorkerSpec("threads", 8),
        WorkerSpec("threads", 16),
        WorkerSpec("threads", 32),
        WorkerSpec("gevent", 16),
    )
    bursts: tuple[int, ...] = (10_000, 100_000)
    # Bounds each burst: what is not sent by then is reported as not sent (never extrapolated).
    burst_timeout_seconds: float = 600.0
    steady_seconds: float = 60.0
    steady_max_rate: float = 180.0  # the 150-200/s, if capacity allows
    steady_share_of_capacity: float = 0.5  # else this share of the measured burst throughput
    outbox_counts: tuple[int, ...] = (10_000, 1_000_000)
    # 1,000,000 ETA tasks would need ~8.6 GB of worker memory: measure two sizes, extrapolate.
    naive_counts: tuple[int, ...] = (10_000, 100_000)
    reschedule_calls: int = 200
    import_rows: tuple[int, ...] = (20_000, 100_000, 500_000)  # the three sizes
    hl7_messages: int = 10_000  # SIU over MLLP to one listener (bench/hl7.py): 100-500 s
    hl7_connections: int = 4
    hl7_paced_seconds: float = 30.0  # at 100 messages/s, for the ACK latency
    # Email, then SMS + email taken in turn, each all due at once (the issue names 100,000; at
    # ~300 msg/s that is ~6 min a burst, so 20,000 keeps the run in its budget).
    email_bursts: int = 20_000
    # GOV.UK Notify's pattern (bench/peer_app.py) on the best engage spec's pool and
    # concurrency, plus these extra (pool, concurrency) trials to give the peer its best.
    peer_messages: int = 5_000
    peer_trials: tuple[tuple[str, int], ...] = (("threads", 32), ("gevent", 64))
    cli_runs: int = 5  # each command's CPU is the median of this many starts
    # The 100,000 (planned in memory, stored set-wise: about a minute).
    bulk_enroll_rows: int = 100_000
    read_patients: int = 1_000_000  # with read_messages_per_patient: the 10M messages
    read_messages_per_patient: int = 10
    read_calls: int = 300  # per read; p99 of these
    # Per console page, on the read phase's database: a few hundred, as the reads are
    # measured (p99 of 100 calls is their second slowest: one pause decides it).
    console_calls: int = 300
    only: frozenset[str] = frozenset()  # BENCH_ONLY: run just these phases (empty: all)

    def runs(self, phase: str) -> bool:
        return not self.only or phase in self.only


QUICK = Plan(
    pool_trial_messages=500,
    pool_trials=(WorkerSpec("threads", 8),),
    bursts=(1_000, 3_000),
    burst_timeout_seconds=120.0,
    steady_seconds=15.0,
    outbox_counts=(10_000, 50_000),
    naive_counts=(1_000, 3_000),
    reschedule_calls=50,
    import_rows=(2_000, 10_000),
    hl7_messages=1_000,
    hl7_paced_seconds=10.0,
    bulk_enroll_rows=2_000,
    email_bursts=1_000,
    peer_messages=1_000,
    peer_trials=(),
    read_patients=20_000,
    read_calls=100,
    console_calls=30,
)
PHASES = (
    "sendpath", "pools", "bursts", "steady", "memory", "reschedule", "naive", "visibility",
    "import", "hl7", "email", "peer", "cli", "bulk", "reads", "console",
)  # fmt: skip


def plan_from_env() -> Plan:
    plan = QUICK if os.environ.get("BENCH_QUICK") else Plan()
    changes: dict[str, object] = {}
    counts = os.environ.get("BENCH_NAIVE_COUNTS")
    if counts:
        changes["naive_counts"] = tuple(int(c) for c in counts.split(","))
    only = {p.strip() for p in os.environ.get("BENCH_ONLY", "").split(",") if p.strip()}
    unknown = only - set(PHASES)
    if unknown:
        raise SystemExit(f"BENCH_ONLY: unknown phase(s) {sorted(unknown)}; known: {PHASES}")
    changes["only"] = frozenset(only)
    scale = float(os.environ.get("BENCH_SCALE", "1"))
    if scale != 1:  # the sizes of the bulk and read phases (smoke runs while developing)
        changes["bulk_enroll_rows"] = max(100, int(plan.bulk_enroll_rows * scale))
        changes["read_patients"] = max(1000, int(plan.read_patients * scale))
    return Plan(**{**plan.__dict__, **changes})
