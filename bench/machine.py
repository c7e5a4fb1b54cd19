"""The machine and how busy it was: other engineers' tests share these two cores.

A `LoadWatch` samples the 1-minute load average and the whole machine's CPU use during a phase,
so every number in the report carries the load it was measured under.
"""

from __future__ import annotations

import os
import platform
import threading
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Machine:
    cpus: int
    memory_gib: float
    python: str
    postgres: str
    redis: str


@dataclass(frozen=True)
class Load:
    """Load during one phase: 1-minute load average (start, max) and machine CPU busy %."""

    load_start: float
    load_max: float
    busy_percent: float


def describe(postgres_version: str, redis_version: str) -> Machine:
    memory_kib = int(Path("/proc/meminfo").read_text().split()[1])
    return Machine(
        cpus=os.cpu_count() or 0,
        memory_gib=memory_kib / 1024 / 1024,
        python=platform.python_version(),
        postgres=postgres_version,
        redis=redis_version,
    )


def load_average() -> float:
    return float(Path("/proc/loadavg").read_text().split()[0])


def _cpu_jiffies() -> tuple[int, int]:
    """(busy, total) jiffies of all CPUs since boot."""
    fields = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = fields[3] + fields[4]  # idle + iowait
    total = sum(fields[:8])
    return total - idle, total


class LoadWatch:
    """Samples while a phase runs: `with LoadWatch() as watch: ...; watch.load`."""

    def __init__(self, every: float = 2.0) -> None:
        self._every = every
        self._stop = threading.Event()
        self._samples: list[float] = []
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self.load = Load(0.0, 0.0, 0.0)

    def __enter__(self) -> LoadWatch:
        self._start_load = load_average()
        self._start_cpu = _cpu_jiffies()
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        busy, total = _cpu_jiffies()
        busy -= self._start_cpu[0]
        total -= self._start_cpu[1]
        self.load = Load(
            load_start=self._start_load,
            load_max=max([self._start_load, *self._samples]),
            busy_percent=100 * busy / total if total else 0.0,
        )

    def _sample(self) -> None:
        while not self._stop.wait(self._every):
            self._samples.append(load_average())
