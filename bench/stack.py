"""The delivery stack of one run: fake provider, `engage worker`s and `engage dispatcher`s.

Workers are started first and answer a broker ping before anything becomes due, so start-up
time (imports, connections) never counts as delivery time.
"""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass
from pathlib import Path

from celery import Celery

from bench.procs import ENGAGE, Group, group_cpu_seconds, wait_until
from bench.project import engage_env
from bench.provider import WireRecord, read_times
from bench.services import BROKER

PYTHON_PROVIDER = ["-m", "bench.provider", "--latency-ms"]


@dataclass(frozen=True)
class WorkerSpec:
    """How each worker process runs: `engage worker --pool POOL -c CONCURRENCY`."""

    pool: str = "threads"
    concurrency: int = 32
    workers: int = 2
    dispatchers: int = 1
    # "engage": `engage worker` (the plan's trials all use it); "celery": Celery's own
    # `celery -A workers.app worker` on the same app. Both monkey-patch for gevent first thing.
    launcher: str = "engage"

    @property
    def label(self) -> str:
        command = "engage worker" if self.launcher == "engage" else "celery worker"
        return (
            f"{self.workers} x {command} --pool {self.pool} -c {self.concurrency}, "
            f"{self.dispatchers} dispatcher"
        )

    def argv(self) -> list[str]:
        options = ["--pool", self.pool, "-c", str(self.concurrency), "-Q", "sms,email"]
        if self.launcher == "engage":
            return [*ENGAGE, "worker", *options]
        return [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "workers.app",
            "worker",
            *options,
            "--loglevel",
            "WARNING",
        ]


class Stack:
    """Starts the processes of a run inside `group` and reads what the provider saw."""

    def __init__(self, procs: Group, folder: Path, database_url: str, latency_ms: float) -> None:
        self.procs = procs
        self.folder = folder
        self.database_url = database_url
        self.times = folder / "provider-times.txt"
        self.procs.start(
            "provider",
            [sys.executable, *PYTHON_PROVIDER, str(latency_ms), "--times", str(self.times)],
        )
        self.provider_url = _listening_url(folder / "logs" / "provider.log")
        self.env = engage_env(folder, database_url, BROKER, self.provider_url)
        procs.env.update(self.env)

    def start_workers(self, spec: WorkerSpec) -> None:
        for n in range(spec.workers):
            self.procs.start(f"worker{n}", spec.argv())
        wait_until(lambda: _pings() >= spec.workers, 60, f"{spec.workers} workers to answer")

    def start_dispatchers(self, count: int) -> None:
        for n in range(count):
            self.procs.engage(f"dispatcher{n}", "dispatcher")
        time.sleep(3.0)  # interpreter start and imports; the first tick follows

    def wire(self) -> WireRecord:
        return read_times(self.times)

    def cpu(self) -> dict[str, float]:
        """CPU seconds used so far by each process group of the run."""
        return {
            name: group_cpu_seconds(proc.pid)
            for name, proc in self.procs.started.items()
            if proc.poll() is None
        }


def _listening_url(log: Path) -> str:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if log.exists():
            for line in log.read_text().splitlines():
                if line.startswith("listening on "):
                    return line.removeprefix("listening on ").strip()
        time.sleep(0.1)
    raise TimeoutError("the fake provider did not start")


def _pings() -> int:
    app = Celery(broker=BROKER)
    try:
        return len(app.control.ping(timeout=1.0) or [])
    finally:
        app.close()
