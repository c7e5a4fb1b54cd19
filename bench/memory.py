"""Memory with many far-future messages scheduled: engage's outbox design against the naive one.

Outbox: 10,000 then 1,000,000 messages due in the coming weeks sit in PostgreSQL; a fresh worker
and dispatcher idle for a while, then we read their resident memory and what Redis holds.
Naive: the same count of `apply_async(eta=...)` tasks; a worker on that queue reserves them all
(Celery keeps every ETA task in worker memory, unacked in Redis) before we read the same numbers.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import sqlalchemy as sa

from bench.outbox import fill
from bench.procs import group, wait_until
from bench.services import broker_keys_bytes, flush_broker, fresh_database, redis_used_memory
from bench.stack import Stack, WorkerSpec
from engage.delivery.claim import claim_due
from engage.store.db import make_engine, session_factory

Progress = Callable[[int, int], None]
IDLE_SECONDS = 10.0
MESSAGES_PER_PATIENT = 50
# The same pool as engage's workers, so the two designs differ only in where ETAs wait.
NAIVE_WORKER = [
    *(sys.executable, "-m", "celery", "-A", "bench.naive", "worker"),
    *("--pool", "threads", "-c", "32", "--loglevel", "WARNING"),
]


@dataclass(frozen=True)
class MemoryResult:
    design: str  # "outbox" | "naive"
    scheduled: int
    worker_rss: int  # bytes, summed over the worker's process group
    dispatcher_rss: int  # bytes (0 for the naive design: it has no dispatcher)
    broker_bytes: int  # MEMORY USAGE summed over our Redis db's keys
    redis_used_delta: int  # INFO used_memory now minus before the phase (whole server: noisy)
    database_bytes: int  # the outbox table with its indexes, on disk (0 for naive)
    claim_ms_p50: float  # one empty claim query at this size (outbox only)
    seconds_to_reserve: float  # naive: until the worker held every task


def outbox(
    folder: Path, counts: tuple[int, ...], progress: Progress
) -> tuple[list[MemoryResult], str]:
    """Measure at each count (ascending); return the results and the database URL, left filled."""
    url = fresh_database()
    engine = make_engine(url)
    results = []
    stored = 0
    for count in counts:
        flush_broker()
        before = redis_used_memory()
        progress(stored, counts[-1])
        start = datetime.now(UTC) + timedelta(days=30)
        added = count - stored
        fill(engine, added, max(1, added // MESSAGES_PER_PATIENT), start, 2.0, tag=f"far{count}")
        stored = count
        progress(stored, counts[-1])
        with group({}, folder / "logs") as procs:
            stack = Stack(procs, folder, url, 50.0)
            stack.start_workers(WorkerSpec(workers=1))
            stack.start_dispatchers(1)
            time.sleep(IDLE_SECONDS)
            results.append(
                MemoryResult(
                    design="outbox",
                    scheduled=count,
                    worker_rss=procs.rss_bytes("worker0"),
                    dispatcher_rss=procs.rss_bytes("dispatcher0"),
                    broker_bytes=broker_keys_bytes(),
                    redis_used_delta=redis_used_memory() - before,
                    database_bytes=_table_bytes(engine),
                    claim_ms_p50=_claim_ms(engine),
                    seconds_to_reserve=0.0,
                )
            )
    engine.dispose()
    flush_broker()
    return results, url


def _table_bytes(engine: sa.Engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(sa.text("SELECT pg_total_relation_size('message')")).scalar_one())


def _claim_ms(engine: sa.Engine, runs: int = 21) -> float:
    """The dispatcher's claim query with nothing due, rolled back: median milliseconds."""
    sessions = session_factory(engine)
    times = []
    for _ in range(runs):
        with sessions() as session:
            started = time.perf_counter()
            claim_due(session, datetime.now(UTC), 500)
            times.append((time.perf_counter() - started) * 1000)
            session.rollback()
    return sorted(times)[len(times) // 2]


def naive(folder: Path, counts: tuple[int, ...], progress: Progress) -> list[MemoryResult]:
    """The naive design at each count: publish, let one worker reserve them all, measure."""
    from bench import naive as design

    results = []
    for count in counts:
        flush_broker()
        before = redis_used_memory()
        design.publish(count, datetime.now(UTC) + timedelta(days=30), progress)
        progress(count, count)
        with group({}, folder / "logs") as procs:
            started = time.monotonic()
            procs.start("naive-worker", [*NAIVE_WORKER, "-Q", design.QUEUE])
            wait_until(
                lambda: design.queue_length() == 0 and design.unacked() >= count,  # noqa: B023
                max(120.0, count / 300),
                f"the naive worker to reserve {count} ETA tasks",
                every=1.0,
            )
            reserved = time.monotonic() - started
            time.sleep(IDLE_SECONDS)
            results.append(
                MemoryResult(
                    design="naive",
                    scheduled=count,
                    worker_rss=procs.rss_bytes("naive-worker"),
                    dispatcher_rss=0,
                    broker_bytes=broker_keys_bytes(),
                    redis_used_delta=redis_used_memory() - before,
                    database_bytes=0,
                    claim_ms_p50=0.0,
                    seconds_to_reserve=reserved,
                )
            )
    flush_broker()
    return results
