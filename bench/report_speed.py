"""Rows and a section for the start-up, bulk-enrollment and read phases (issue 15)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from bench import console_pages
from bench.reads import TARGETS_MS

if TYPE_CHECKING:
    from bench.report import Row
    from bench.results import Results

CLI_TARGETS = {"engage --help": 0.3, "engage validate": 1.0}


def rows(results: Results) -> list[Row]:
    from bench.report import Row

    out: list[Row] = []
    reference = {r.command: r.cpu_seconds for r in results.cli_start}.get("celery --help")
    for r in results.cli_start:
        target = CLI_TARGETS.get(r.command)
        note = f" (celery --help: {reference:.2f} s)" if reference and target else ""
        out.append(
            Row(
                f"start-up: `{r.command}` CPU (median of runs)",
                f"{r.cpu_seconds:.2f} s{note}",
                f"<= {target} s" if target else "reference",
                r.cpu_seconds <= target if target else None,
            )
        )
    if results.bulk_enroll:
        b = results.bulk_enroll
        out.append(
            Row(
                f"bulk enrollment, {b.rows:,} patients into pre-infusion (PostgreSQL)",
                f"{b.per_second:,.0f} enrollments/s ({b.seconds:.1f} s, {b.rejected} rejected, "
                f"{b.messages:,} messages); {b.cpu_ms_per_enrollment:.2f} ms CPU/enrollment "
                f"({1000 * b.client_cpu_seconds / max(b.enrolled, 1):.2f} engage + "
                f"{1000 * b.postgres_cpu_seconds / max(b.enrolled, 1):.2f} PostgreSQL)",
                ">= 2,000 enrollments/s",
                b.per_second >= 2000 and b.rejected == 0,
            )
        )
    if results.reads:
        reads = results.reads
        for name, p99 in reads.p99_ms.items():
            target = next(v for k, v in TARGETS_MS.items() if name.startswith(k))
            out.append(
                Row(
                    f"{name}, {reads.patients:,} patients / {reads.messages:,} messages",
                    f"p99 {p99:.1f} ms (p50 {reads.p50_ms[name]:.1f} ms)",
                    f"p99 <= {target:.0f} ms",
                    p99 <= target,
                )
            )
    return out + console_pages.rows(results.console)


def section(results: Results) -> str:
    r = results.reads
    if r is None:
        return console_pages.section(results.console)
    lines = [
        "## Reads at clinic-group scale",
        "",
        f"The database (`engage_reads`: {r.patients:,} patients, one enrollment each, "
        f"{r.messages:,} messages, 0.5% failed) was generated in PostgreSQL with "
        + (
            f"`generate_series` once and kept (BENCH_KEEP_READS=1); this run copied it in "
            f"{r.build_seconds:.0f} s"
            if r.copied
            else f"`generate_series` in {r.build_seconds:.0f} s"
        )
        + ", then VACUUM ANALYZEd and CHECKPOINTed, as an operator does after a bulk load (the "
        "server runs no autovacuum: nothing writes or analyses behind the measurement). The "
        "bench's process freezes its start-up heap as the served app does "
        "(`engage.asgi.freeze_startup_heap`). Each read is the "
        "service the API, console and CLI call (`patients.records.find`, "
        "`timeline.service.patient_timeline`, `ops.failed.list_failed`, the `/metrics` "
        "collector), timed in-process with random patients; `engage status` is the whole "
        "command (interpreter start included), 5 runs. Indexes from migration 0007: "
        "`lower(last_name)`/`lower(first_name)` with `text_pattern_ops` for prefix search, a "
        "partial `(updated_at, id)` index on dead letters. Console pages: the next section.",
        "",
        "Query plans of the three reads closest to their targets:",
        "",
    ]
    for name, plan in r.plans.items():
        lines += [f"**{name}**", "", "```", plan, "```", ""]
    return "\n".join(lines) + console_pages.section(results.console)


def peer_rows(results: Results) -> list[Row]:
    """engage's first SMS burst against the peer's runs: throughput and CPU per message."""
    from bench.report import Row, cpu_per_message

    if not results.peer:
        return []
    out = [
        Row(
            f"{run.label} ({run.spec})",
            f"{run.end_to_end:.0f} msg/s ({run.sent:,} of {run.messages:,} sent); "
            f"{sum(cpu_per_message(run).values()):.2f} ms CPU/message; "
            f"max {run.max_per_second}/s, {run.duplicates} duplicates",
            "for comparison",
            None,
        )
        for run in results.peer
    ]
    if results.bursts:
        ours = results.bursts[0]
        best = max(results.peer, key=lambda r: r.end_to_end)
        same = results.peer[0]
        speed = ours.end_to_end / best.end_to_end if best.end_to_end else float("nan")
        ours_cpu = sum(cpu_per_message(ours).values())
        peer_cpu = sum(cpu_per_message(same).values())
        cpu = ours_cpu / peer_cpu if peer_cpu else float("nan")
        out.append(
            Row(
                f"engage ({ours.label}) vs the peer",
                f"throughput {speed:.2f}x the peer's best ({best.spec}); CPU per message "
                f"{cpu:.2f}x the peer's on the same spec ({ours_cpu:.2f} vs {peer_cpu:.2f} ms)",
                ">= 1.5x throughput; <= 0.6x CPU",
                speed >= 1.5 and cpu <= 0.6,
            )
        )
    return out
