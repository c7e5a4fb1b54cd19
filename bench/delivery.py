"""Dispatch throughput and lateness: N messages through the real stack, checked on the wire.

Burst: N messages parked far in the future become due in one UPDATE while the stack idles;
the clock runs from that commit. Steady: messages due one after another at a rate below
capacity, so lateness shows the dispatcher's own delay rather than a queue draining.
Sent times come from the database (`sent_at`, written when the provider has answered); the
rate cap is checked on the fake provider's arrival times; "exactly once" on its record.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import sqlalchemy as sa

from bench.outbox import fill
from bench.procs import group
from bench.services import flush_broker, fresh_database
from bench.stack import Stack, WorkerSpec
from bench.stats import max_in_window, percentile, rate
from engage.store.db import make_engine

Progress = Callable[[int, int], None]
PARKED = datetime(2100, 1, 1, tzinfo=UTC)
LATENCY_MS = 50.0


@dataclass(frozen=True)
class DeliveryResult:
    label: str
    spec: str
    messages: int
    sent: int  # rows in `sent` at the end
    on_wire: int  # provider requests
    duplicates: int  # requests beyond one per message
    missing: int  # messages recorded as sent that the provider never saw
    unsent: int  # messages not sent when the run ended (a timed-out run)
    throughput: float  # messages/s from the first to the last sent_at
    end_to_end: float  # messages/s from "due" to the last sent_at
    drain_seconds: float  # "due" to the last sent_at
    lateness_p50: float
    lateness_p99: float
    lateness_max: float
    max_per_second: int  # most requests to any one provider in any 1-second window
    cpu: dict[str, float]  # CPU seconds per process group over the run
    timed_out: bool
    recovered: int  # claims given back by stuck-message recovery (queued or sending too long)


def burst(
    folder: Path,
    n: int,
    spec: WorkerSpec,
    timeout: float,
    progress: Progress,
    channels: tuple[str, ...] = ("sms",),
) -> DeliveryResult:
    """All `n` messages due at once, their channels taken in turn from `channels`."""

    def make_due(engine: sa.Engine) -> None:
        with engine.begin() as conn:
            conn.execute(sa.text("UPDATE message SET due_at = now()"))

    fill_kw = {"start": PARKED, "spacing": 0.0, "channels": channels}
    kind = "" if channels == ("sms",) else " + ".join(channels) + " "
    return _run(folder, f"{kind}burst {n:,}", n, spec, timeout, progress, fill_kw, make_due)


def steady(
    folder: Path, per_second: float, seconds: float, spec: WorkerSpec, progress: Progress
) -> DeliveryResult:
    """Messages due at `per_second`, one after another, for `seconds`."""
    n = int(per_second * seconds)

    def make_due(engine: sa.Engine) -> None:
        with engine.begin() as conn:  # due from 3 s on: the fill commits well before the first
            conn.execute(
                sa.text(
                    "UPDATE message SET due_at = now() + interval '3 seconds'"
                    " + (id - (SELECT min(id) FROM message)) * make_interval(secs => :gap)"
                ),
                {"gap": 1.0 / per_second},
            )

    fill_kw = {"start": PARKED, "spacing": 0.0}
    label = f"steady {per_second:.0f}/s x {seconds:.0f} s"
    return _run(folder, label, n, spec, seconds + 60, progress, fill_kw, make_due)


def _run(
    folder: Path,
    label: str,
    n: int,
    spec: WorkerSpec,
    timeout: float,
    progress: Progress,
    fill_kw: dict[str, object],
    make_due: Callable[[sa.Engine], None],
) -> DeliveryResult:
    url = fresh_database()
    flush_broker()
    engine = make_engine(url)
    fill(engine, n, patients=n, **fill_kw)  # type: ignore[arg-type]
    with group({}, folder / "logs") as procs:
        stack = Stack(procs, folder, url, LATENCY_MS)
        stack.start_workers(spec)
        stack.start_dispatchers(spec.dispatchers)
        cpu_before = stack.cpu()
        make_due(engine)
        timed_out = _wait_sent(engine, n, timeout, progress)
        time.sleep(1.0)  # a duplicate still in flight would land now
        cpu = {k: v - cpu_before.get(k, 0.0) for k, v in stack.cpu().items()}
        cpu["postgres"] = _postgres_cpu(engine)
    wire = stack.wire()  # read once every process has stopped: in-flight sends land in both
    per_route = max(
        (
            max_in_window([t for t, r in zip(wire.times, wire.routes, strict=True) if r == route])
            for route in set(wire.routes)
        ),
        default=0,
    )
    result = _measure(engine, label, spec, n, per_route, wire.ids, cpu, timed_out)
    engine.dispose()
    flush_broker()
    return result


def _wait_sent(engine: sa.Engine, n: int, timeout: float, progress: Progress) -> bool:
    deadline = time.monotonic() + timeout
    sent = 0
    while time.monotonic() < deadline:
        sent = _count_sent(engine)
        progress(sent, n)
        if sent >= n:
            return False
        time.sleep(0.5)
    return True


def _count_sent(engine: sa.Engine) -> int:
    with engine.connect() as conn:
        return int(
            conn.execute(sa.text("SELECT count(*) FROM message WHERE state = 'sent'")).scalar_one()
        )


def _postgres_cpu(engine: sa.Engine) -> float:
    """CPU seconds of the server backends serving this database (still connected ones)."""
    from bench.procs import cpu_seconds

    with engine.connect() as conn:
        pids = conn.execute(
            sa.text("SELECT pid FROM pg_stat_activity WHERE datname = current_database()")
        ).scalars()
        return sum(cpu_seconds(pid) for pid in pids)


def _measure(
    engine: sa.Engine,
    label: str,
    spec: WorkerSpec,
    n: int,
    max_per_second: int,
    wire_ids: list[int],
    cpu: dict[str, float],
    timed_out: bool,
) -> DeliveryResult:
    with engine.connect() as conn:
        rows = conn.execute(
            sa.text("SELECT id, due_at, sent_at FROM message WHERE state = 'sent' ORDER BY sent_at")
        ).all()
        due_from = conn.execute(sa.text("SELECT min(due_at) FROM message")).scalar_one()
        recovered = conn.execute(
            sa.text("SELECT count(*) FROM message_event WHERE reason LIKE 'recovered%'")
        ).scalar_one()
    lateness = [(r.sent_at - r.due_at).total_seconds() for r in rows]
    first = rows[0].sent_at.timestamp() if rows else math.nan
    last = rows[-1].sent_at.timestamp() if rows else math.nan
    drain = last - due_from.timestamp() if rows else math.nan
    return DeliveryResult(
        label=label,
        spec=spec.label,
        messages=n,
        sent=len(rows),
        on_wire=len(wire_ids),
        duplicates=len(wire_ids) - len(set(wire_ids)),
        missing=len({r.id for r in rows} - set(wire_ids)),
        unsent=n - len(rows),
        throughput=rate(len(rows) - 1, first, last),
        end_to_end=len(rows) / drain if rows and drain > 0 else math.nan,
        drain_seconds=drain,
        lateness_p50=percentile(lateness, 50),
        lateness_p99=percentile(lateness, 99),
        lateness_max=max(lateness, default=math.nan),
        max_per_second=max_per_second,
        cpu=cpu,
        timed_out=timed_out,
        recovered=int(recovered),
    )
