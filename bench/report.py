"""The results as a rich table on the terminal and as docs/benchmarks.md.

Each headline row carries its target and whether this run met it; the page adds the load every
phase ran under, what each number means, and where the CPU went.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

from rich.console import Console
from rich.table import Table

from bench import report_speed
from bench.delivery import LATENCY_MS, DeliveryResult
from bench.hl7 import Hl7Result
from bench.memory import IDLE_SECONDS, MemoryResult
from bench.project import RATE_CAP, TICK
from bench.results import Results

MB = 1024 * 1024
TARGET_RATE = 250.0
MILLION = 1_000_000


@dataclass(frozen=True)
class Row:
    measurement: str
    result: str
    target: str
    met: bool | None  # None: informational, no target


def headline(results: Results) -> list[Row]:
    rows: list[Row] = []
    for run in [*results.bursts, *results.email_bursts]:
        rows += _burst_rows(run)
        rows.append(_ceiling_row(run, results.machine.cpus))
    rows += report_speed.peer_rows(results)
    if results.steady:
        rows.append(_steady_row(results.steady))
    rows += _memory_rows(results)
    if results.reschedule:
        r = results.reschedule
        rows.append(
            Row(
                f"reschedule one patient's appointment, {r.stored:,} messages stored",
                f"p50 {r.p50_ms:.1f} ms, p99 {r.p99_ms:.1f} ms, max {r.max_ms:.1f} ms",
                "p99 < 20 ms",
                r.p99_ms < 20,
            )
        )
    rows += _import_rows(results)
    if results.hl7:
        rows += _hl7_rows(results.hl7)
    return rows + report_speed.rows(results)


def _import_rows(results: Results) -> list[Row]:
    """Per size: rate and peak memory; 100,000 holds the targets, the others show flatness."""
    out = []
    smallest = results.imports[0].peak_mb if results.imports else 0.0
    for i in results.imports:
        growth = (
            f", {i.peak_mb - smallest:+.0f} MB on {results.imports[0].rows:,}"
            if i is not results.imports[0]
            else ""
        )
        out.append(
            Row(
                f"streaming import, {i.rows:,} patients (PostgreSQL)",
                f"{i.per_second:,.0f} patients/s ({i.seconds:.1f} s, {i.rejected} rejected; "
                f"{i.cpu_ms_per_patient:.2f} ms CPU/patient); peak RSS {i.peak_mb:.0f} MB{growth}",
                ">= 5,000 patients/s; peak <= 200 MB, flat",
                i.per_second >= 5000 and i.peak_mb <= 200 and i.rejected == 0,
            )
        )
    return out


def _hl7_rows(h: Hl7Result) -> list[Row]:
    return [
        Row(
            f"HL7 SIU over MLLP, {h.messages:,} on {h.connections} connections (PostgreSQL)",
            f"{h.per_second:,.0f} messages/s ({h.seconds:.1f} s, {h.not_aa} not AA; "
            f"{h.statements_per_message:.1f} SQL statements and CPU {h.listener_cpu_ms:.1f} ms "
            f"listener + {h.postgres_cpu_ms:.1f} ms PostgreSQL per message)",
            ">= 500 messages/s",
            h.per_second >= 500 and h.not_aa == 0,
        ),
        Row(
            f"HL7 ACK latency at {h.paced_rate:.0f} messages/s ({h.paced_messages:,} messages)",
            f"p50 {h.ack_p50_ms:.1f} ms, p99 {h.ack_p99_ms:.1f} ms, max {h.ack_max_ms:.1f} ms",
            "p99 <= 50 ms",
            h.ack_p99_ms <= 50,
        ),
    ]


def _burst_rows(run: DeliveryResult) -> list[Row]:
    sent = f"{run.sent:,} of {run.messages:,} sent" + (
        " before the phase's time limit" if run.timed_out else ""
    )
    return [
        Row(
            f"{run.label}: throughput, due -> last sent_at",
            f"{run.end_to_end:.0f} msg/s ({sent}, {run.drain_seconds:.0f} s); "
            f"first -> last sent_at {run.throughput:.0f} msg/s",
            f">= {TARGET_RATE:.0f} msg/s",
            run.end_to_end >= TARGET_RATE and not run.timed_out,
        ),
        Row(
            f"{run.label}: rate cap and exactly once",
            f"max {run.max_per_second} requests in any 1 s (cap {RATE_CAP}); "
            f"{run.duplicates} duplicates, {run.missing} sent but not on the wire"
            + (
                f"; {run.recovered:,} claims re-enqueued by stuck recovery" if run.recovered else ""
            ),
            f"<= {RATE_CAP}/s; 0 duplicates",
            run.max_per_second <= RATE_CAP and run.duplicates == 0 and run.missing == 0,
        ),
        Row(
            f"{run.label}: lateness (backlog, all due at once)",
            _lateness(run),
            "none (a backlog draining)",
            None,
        ),
    ]


def _ceiling_row(run: DeliveryResult, cores: int) -> Row:
    """Throughput as a share of what the run's own CPU cost allows: cores / CPU per message."""
    per_message = sum(cpu_per_message(run).values())
    ceiling = 1000 * cores / per_message if per_message else math.nan
    share = run.end_to_end / ceiling if finite(ceiling) else math.nan
    return Row(
        f"{run.label}: CPU per message (all processes) and share of the CPU-bound ceiling",
        f"{per_message:.2f} ms/message; ceiling {cores} cores / that = {ceiling:.0f} msg/s; "
        f"throughput {share:.2f} of it",
        "<= 2.0 ms; >= 0.8 of the ceiling",
        per_message <= 2.0 and share >= 0.8,
    )


def _steady_row(run: DeliveryResult) -> Row:
    limit = TICK + 2.0
    return Row(
        f"{run.label}: lateness (sent_at - due_at)",
        _lateness(run) + f"; {run.sent:,}/{run.messages:,} sent",
        f"p99 <= tick + 2 s = {limit:.0f} s",
        run.lateness_p99 <= limit and not run.timed_out,
    )


def _lateness(run: DeliveryResult) -> str:
    return (
        f"p50 {run.lateness_p50:.1f} s, p99 {run.lateness_p99:.1f} s, max {run.lateness_max:.1f} s"
    )


def _memory_rows(results: Results) -> list[Row]:
    rows = []
    if len(results.outbox_memory) >= 2:
        small, big = results.outbox_memory[0], results.outbox_memory[-1]
        growth = big.worker_rss / small.worker_rss - 1
        broker = big.broker_bytes - small.broker_bytes
        rows.append(
            Row(
                f"outbox design: memory, {small.scheduled:,} -> {big.scheduled:,} far-future",
                f"worker RSS {_mb(small.worker_rss)} -> {_mb(big.worker_rss)} ({growth:+.1%}); "
                f"dispatcher {_mb(small.dispatcher_rss)} -> {_mb(big.dispatcher_rss)}; "
                f"Redis keys {small.broker_bytes:,} -> {big.broker_bytes:,} B",
                "flat (within 10%)",
                abs(growth) <= 0.10
                and abs(big.dispatcher_rss / small.dispatcher_rss - 1) <= 0.10
                and broker <= 0.10 * max(small.broker_bytes, 1),
            )
        )
    naive = naive_slope(results.naive_memory)
    if naive:
        per_task, broker_per_task, at_million = naive
        small, big = results.naive_memory[0], results.naive_memory[-1]
        rows.append(
            Row(
                f"naive design: memory, {small.scheduled:,} -> {big.scheduled:,} ETA tasks",
                f"worker RSS {_mb(small.worker_rss)} -> {_mb(big.worker_rss)} "
                f"({per_task / 1024:.1f} KB/task); Redis {_mb(small.broker_bytes)} -> "
                f"{_mb(big.broker_bytes)} ({broker_per_task / 1024:.1f} KB/task); "
                f"1M extrapolated: worker ~{at_million / 1024**3:.1f} GB",
                "for comparison",
                None,
            )
        )
    if results.redelivery:
        r = results.redelivery
        rows.append(
            Row(
                "naive design: ETA past the visibility timeout",
                f"{r.tasks:,} tasks ran {r.runs:,} times ({r.ran_more_than_once:,} more than "
                f"once, up to {r.most_runs}x) with timeout {r.visibility_timeout} s, ETA "
                f"{r.eta_seconds} s",
                "for comparison",
                None,
            )
        )
    return rows


def naive_slope(runs: list[MemoryResult]) -> tuple[float, float, float] | None:
    """(worker bytes per ETA task, Redis bytes per task, worker bytes at 1M by that slope)."""
    if len(runs) < 2:
        return None
    small, big = runs[0], runs[-1]
    extra = big.scheduled - small.scheduled
    per_task = (big.worker_rss - small.worker_rss) / extra
    broker = (big.broker_bytes - small.broker_bytes) / extra
    return per_task, broker, small.worker_rss + per_task * (MILLION - small.scheduled)


def _mb(n: float) -> str:
    return f"{n / MB:,.0f} MB" if n >= 10 * MB else f"{n / MB:,.1f} MB"


def _met(met: bool | None) -> str:
    return "-" if met is None else "yes" if met else "NO"


def print_table(console: Console, results: Results) -> None:
    table = Table(title="make bench: engage delivery on this machine", show_lines=True)
    for column in ("measurement", "result", "target", "met"):
        table.add_column(column, overflow="fold")
    for row in headline(results):
        style = None if row.met is None else "green" if row.met else "red"
        table.add_row(row.measurement, row.result, row.target, _met(row.met), style=style)
    console.print(table)


def write_markdown(
    path: Path, results: Results, quick: bool, only: frozenset[str] = frozenset()
) -> None:
    from bench.report_text import page

    path.write_text(page(results, headline(results), quick, only))


def cpu_per_message(run: DeliveryResult) -> dict[str, float]:
    """Milliseconds of CPU per sent message, by process kind."""
    kinds: dict[str, float] = {}
    for name, seconds in run.cpu.items():
        kind = name.rstrip("0123456789")
        kinds[kind] = kinds.get(kind, 0.0) + seconds
    return {k: 1000 * v / run.sent for k, v in kinds.items()} if run.sent else {}


def finite(value: float) -> bool:
    return not math.isnan(value) and not math.isinf(value)


__all__ = ["IDLE_SECONDS", "LATENCY_MS", "Row", "cpu_per_message", "headline", "naive_slope"]
