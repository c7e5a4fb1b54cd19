"""The naive design's hidden cost: Redis hands an unacked ETA task to a worker again once the
visibility timeout has passed, so a task waiting longer than the timeout runs more than once.

With the production timeout (3600 s) that takes an hour to show; here the timeout is 5 s and the
ETA 30 s ahead, which is the same situation sped up: count how often each task really ran.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from bench import naive as design
from bench.memory import NAIVE_WORKER
from bench.procs import group
from bench.services import flush_broker

VISIBILITY_SECONDS = 5
ETA_SECONDS = 30


@dataclass(frozen=True)
class RedeliveryResult:
    tasks: int
    workers: int
    visibility_timeout: int
    eta_seconds: int
    runs: int  # executions counted by the task itself
    ran_more_than_once: int  # tasks that ran twice or more
    most_runs: int  # the most any one task ran


def measure(folder: Path, tasks: int = 1000, workers: int = 2) -> RedeliveryResult:
    flush_broker()
    env = {"BENCH_NAIVE_VISIBILITY": str(VISIBILITY_SECONDS)}
    with group(env, folder / "logs") as procs:
        for n in range(workers):
            procs.start(f"naive-visibility{n}", [*NAIVE_WORKER, "-Q", design.QUEUE])
        time.sleep(3.0)
        eta = datetime.now(UTC) + timedelta(seconds=ETA_SECONDS)
        design.publish(tasks, eta)
        time.sleep(max(0.0, (eta - datetime.now(UTC)).total_seconds()) + 15.0)
        runs = design.runs()
    flush_broker()
    return RedeliveryResult(
        tasks=tasks,
        workers=workers,
        visibility_timeout=VISIBILITY_SECONDS,
        eta_seconds=ETA_SECONDS,
        runs=sum(runs.values()),
        ran_more_than_once=sum(1 for n in runs.values() if n > 1),
        most_runs=max(runs.values(), default=0),
    )
