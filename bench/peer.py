"""The peer's burst (bench/peer_app.py): N messages, one Celery task each, through the same
fake provider, broker, database and worker pool/concurrency as engage's bursts.

The clock starts when the first task is enqueued (Notify's API enqueues as it accepts each
notification; the enqueuing here runs in the bench process and its CPU is not counted, which
favours the peer slightly).
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import sqlalchemy as sa
from celery import Celery

from bench import delivery
from bench.delivery import PARKED, DeliveryResult, Progress
from bench.outbox import fill
from bench.procs import group, wait_until
from bench.services import BROKER, flush_broker, fresh_database
from bench.stack import Stack, WorkerSpec
from engage.store.db import make_engine


def burst(
    folder: Path, n: int, spec: WorkerSpec, timeout: float, progress: Progress
) -> DeliveryResult:
    url = fresh_database()
    flush_broker()
    engine = make_engine(url)
    fill(engine, n, patients=n, start=PARKED)
    with group({}, folder / "logs") as procs:
        stack = Stack(procs, folder, url, delivery.LATENCY_MS)
        procs.env["BENCH_PEER_DATABASE_URL"] = url
        procs.env["BENCH_PEER_BROKER"] = BROKER
        argv = [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "bench.peer_app",
            "worker",
            "--pool",
            spec.pool,
            "-c",
            str(spec.concurrency),
            "-Q",
            "peer-sms",
            "--loglevel",
            "WARNING",
        ]
        for k in range(spec.workers):
            procs.start(f"worker{k}", [*argv, "-n", f"peer{k}@%h"])
        wait_until(lambda: _pings() >= spec.workers, 60, "peer workers to answer")
        cpu_before = stack.cpu()
        with engine.begin() as conn:
            conn.execute(sa.text("UPDATE message SET due_at = now()"))
            ids = conn.execute(sa.text("SELECT id FROM message ORDER BY id")).scalars().all()
        app = Celery(broker=BROKER)
        with app.producer_or_acquire() as producer:
            for message_id in ids:
                app.send_task("peer.deliver", (message_id,), queue="peer-sms", producer=producer)
        app.close()
        timed_out = delivery._wait_sent(engine, n, timeout, progress)
        time.sleep(1.0)
        cpu = {k: v - cpu_before.get(k, 0.0) for k, v in stack.cpu().items()}
        cpu["postgres"] = delivery._postgres_cpu(engine)
    wire = stack.wire()
    per_route = delivery.max_in_window(wire.times)
    label = f"peer (Notify pattern) burst {n:,}"
    peer_spec = WorkerSpec(spec.pool, spec.concurrency, spec.workers, 0, "celery")
    result = delivery._measure(engine, label, peer_spec, n, per_route, wire.ids, cpu, timed_out)
    engine.dispose()
    flush_broker()
    return result


def _pings() -> int:
    app = Celery(broker=BROKER)
    try:
        return len(app.control.ping(timeout=1.0) or [])
    finally:
        app.close()
