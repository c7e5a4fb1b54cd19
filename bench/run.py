"""`make bench`: run every measurement in turn, print a table, write docs/benchmarks.md.

Phases are bounded in time and clean up after themselves (database `engage_bench`, Redis db 13,
every process they started). Working files and process logs go to var/bench/.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, replace
from datetime import UTC, datetime
from pathlib import Path

import redis
import sqlalchemy as sa
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from bench import (
    bulk_enroll,
    cli_start,
    console_pages,
    delivery,
    hl7,
    importing,
    memory,
    peer,
    reads,
    redelivery,
    reschedule,
    sendpath,
)
from bench.machine import LoadWatch, describe
from bench.plan import Plan, plan_from_env
from bench.procs import ROOT
from bench.report import print_table, write_markdown
from bench.results import Results
from bench.services import BROKER, POSTGRES, drop_database, flush_broker, one_run_at_a_time
from bench.stack import WorkerSpec

WORK = ROOT / "var" / "bench"
DOC = ROOT / "docs" / "benchmarks.md"
console = Console()


def main() -> None:
    with one_run_at_a_time():
        _main(plan_from_env())


def _main(plan: Plan) -> None:
    shutil.rmtree(WORK, ignore_errors=True)
    WORK.mkdir(parents=True)
    results = Results(
        machine=describe(*_versions()),
        started=datetime.now(UTC).isoformat(),
        commit=_git("rev-parse", "--short", "HEAD"),
        uncommitted=_git("status", "--porcelain", "--", "engage", "workers").splitlines(),
    )
    started = time.monotonic()
    progress = Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
    )
    try:
        with progress:
            _run_phases(plan, results, _Phases(progress, results))
    finally:
        drop_database()
        drop_database(reads.DATABASE)
        flush_broker()
    results.seconds = time.monotonic() - started
    results.commit_at_end = _git("rev-parse", "--short", "HEAD")
    (WORK / "results.json").write_text(json.dumps(asdict(results), indent=1, default=str))
    print_table(console, results)
    write_markdown(DOC, results, quick=replace(plan, only=frozenset()) != Plan(), only=plan.only)
    console.print(f"wrote {DOC.relative_to(ROOT)} ({results.seconds / 60:.1f} min)")


class _Phases:
    """Starts a progress bar and a load watch per phase."""

    def __init__(self, progress: Progress, results: Results) -> None:
        self.progress = progress
        self.results = results

    @contextmanager
    def phase(self, name: str, total: int) -> Iterator[Callable[[int, int], None]]:
        task = self.progress.add_task(name, total=total)

        def update(done: int, of: int) -> None:
            self.progress.update(task, completed=done, total=of)

        with LoadWatch() as watch:
            yield update
        self.progress.update(task, completed=self.progress.tasks[task].total)
        self.results.loads[name] = watch.load


def _run_phases(plan: Plan, results: Results, phases: _Phases) -> None:
    if plan.runs("sendpath"):
        with phases.phase("send path profile (no Celery)", 1) as done:
            results.send_path = sendpath.measure(_work("sendpath"))
            done(1, 1)
    if any(plan.runs(p) for p in ("pools", "bursts", "email", "peer", "steady")):
        _delivery_phases(plan, results, phases)
    _memory_phases(plan, results, phases)
    for rows in plan.import_rows if plan.runs("import") else ():
        with phases.phase(f"import {rows:,} patients", rows) as done:
            results.imports.append(importing.measure(_work("import"), done, rows))
    if plan.runs("hl7"):
        with phases.phase(f"hl7 SIU x {plan.hl7_messages:,}", plan.hl7_messages) as done:
            results.hl7 = hl7.measure(
                _work("hl7"), done, plan.hl7_messages, plan.hl7_connections, plan.hl7_paced_seconds
            )
    _speed_phases(plan, results, phases)


def _delivery_phases(plan: Plan, results: Results, phases: _Phases) -> None:
    best = _pool_trials(plan, results, phases) if plan.runs("pools") else WorkerSpec("threads", 16)
    for count in plan.bursts if plan.runs("bursts") else ():
        with phases.phase(f"burst {count:,} due at once", count) as done:
            results.bursts.append(
                delivery.burst(
                    _work(f"burst{count}"), count, best, plan.burst_timeout_seconds, done
                )
            )
    for channels in (("email",), ("sms", "email")) if plan.runs("email") else ():
        count = plan.email_bursts
        with phases.phase(f"{' + '.join(channels)} burst {count:,}", count) as done:
            results.email_bursts.append(
                delivery.burst(
                    _work(f"burst-{'-'.join(channels)}"),
                    count,
                    best,
                    plan.burst_timeout_seconds,
                    done,
                    channels,
                )
            )
    if plan.runs("peer"):
        _peer_phases(plan, results, phases, best)
    if not plan.runs("steady"):
        return
    capacity = results.bursts[0].throughput if results.bursts else plan.steady_max_rate
    rate = min(plan.steady_max_rate, plan.steady_share_of_capacity * capacity)
    with phases.phase(f"steady {rate:.0f}/s", int(rate * plan.steady_seconds)) as done:
        results.steady = delivery.steady(_work("steady"), rate, plan.steady_seconds, best, done)


def _peer_phases(plan: Plan, results: Results, phases: _Phases, best: WorkerSpec) -> None:
    specs = [best] + [WorkerSpec(pool, c, best.workers) for pool, c in plan.peer_trials]
    for k, spec in enumerate(specs):
        count = plan.peer_messages
        with phases.phase(f"peer burst {count:,}: {spec.pool} -c {spec.concurrency}", count) as d:
            try:
                results.peer.append(
                    peer.burst(_work(f"peer{k}"), count, spec, plan.burst_timeout_seconds, d)
                )
            except TimeoutError as exc:
                results.pool_failures.append(f"peer {spec.label}: {exc}")


def _memory_phases(plan: Plan, results: Results, phases: _Phases) -> None:
    if plan.runs("memory") or plan.runs("reschedule"):
        with phases.phase("outbox memory", plan.outbox_counts[-1]) as done:
            results.outbox_memory, url = memory.outbox(_work("memory"), plan.outbox_counts, done)
        if plan.runs("reschedule"):
            with phases.phase(f"reschedule x {plan.reschedule_calls}", plan.reschedule_calls) as d:
                results.reschedule = reschedule.measure(url, d, plan.reschedule_calls)
    if plan.runs("naive"):
        with phases.phase("naive ETA memory", plan.naive_counts[-1]) as done:
            results.naive_memory = memory.naive(_work("naive"), plan.naive_counts, done)
    if plan.runs("visibility"):
        with phases.phase("naive visibility timeout", 1) as done:
            results.redelivery = redelivery.measure(_work("visibility"))
            done(1, 1)


def _speed_phases(plan: Plan, results: Results, phases: _Phases) -> None:
    if plan.runs("cli"):
        with phases.phase("CLI start-up CPU", 3) as done:
            results.cli_start = cli_start.measure(plan.cli_runs)
            done(3, 3)
    if plan.runs("bulk"):
        rows = plan.bulk_enroll_rows
        with phases.phase(f"bulk enroll {rows:,} patients", rows) as done:
            results.bulk_enroll = bulk_enroll.measure(_work("bulk"), done, rows)
    if plan.runs("reads"):
        count = plan.read_patients
        with phases.phase(f"reads on {count:,} patients", 7) as done:
            results.reads = reads.measure(
                done, count, plan.read_messages_per_patient, plan.read_calls
            )
    if plan.runs("console"):  # after reads: it adds rows to the reads database, then reuses it
        count = plan.read_patients
        with phases.phase(f"console pages on {count:,} patients", 14) as done:
            results.console = console_pages.measure(
                done, count, plan.read_messages_per_patient, plan.console_calls,
                built=results.reads is not None,
            )  # fmt: skip


def _pool_trials(plan: Plan, results: Results, phases: _Phases) -> WorkerSpec:
    """Try each worker pool on a small burst; the fastest `engage worker` runs the rest."""
    best: tuple[float, WorkerSpec] | None = None
    for n, spec in enumerate(plan.pool_trials):
        name = f"pool trial: {spec.label}"
        with phases.phase(name, plan.pool_trial_messages) as done:
            try:
                trial = delivery.burst(
                    _work(f"pool{n}"), plan.pool_trial_messages, spec, 180.0, done
                )
            except TimeoutError as exc:
                results.pool_failures.append(f"{spec.label}: {exc}")
                continue
        results.pool_trials.append(trial)
        if spec.launcher != "engage" or trial.timed_out:
            continue
        if best is None or trial.end_to_end > best[0]:
            best = (trial.end_to_end, spec)
    return best[1] if best else WorkerSpec()


def _work(name: str) -> Path:
    folder = WORK / name
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def _git(*args: str) -> str:
    """What git says about the code measured (others commit to this tree while a run goes)."""
    done = subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True, check=False)
    return done.stdout.strip()


def _versions() -> tuple[str, str]:
    engine = sa.create_engine(f"{POSTGRES}/postgres")
    with engine.connect() as conn:
        postgres = str(conn.execute(sa.text("SHOW server_version")).scalar_one())
    engine.dispose()
    return postgres, str(redis.Redis.from_url(BROKER).info("server")["redis_version"])


if __name__ == "__main__":
    main()
