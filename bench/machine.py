"""The machine and how busy it was: other engineers' tests share these two cores.

A `LoadWatch` samples every process once a second during a phase and splits the CPU it used
into ours (the bench, the processes it started, the PostgreSQL backends of its database) and
other people's, so every number in the report carries the contention it was measured under.
The load average is kept too, but it counts our own processes as well.
"""

from __future__ import annotations

import os
import platform
import threading
from dataclasses import dataclass
from pathlib import Path

from bench.procs import OURS
from bench.services import DATABASE

TICKS = os.sysconf("SC_CLK_TCK")


@dataclass(frozen=True)
class Machine:
    cpus: int
    memory_gib: float
    python: str
    postgres: str
    redis: str


@dataclass(frozen=True)
class Load:
    """Contention during one phase."""

    load_start: float  # 1-minute load average (ours included)
    load_max: float
    busy_percent: float  # the whole machine's CPU, everyone included
    others_cores: float  # CPU used by other people's processes, in cores (0 to cpus)


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
    return sum(fields[:8]) - idle, sum(fields[:8])


def _others() -> dict[int, tuple[int, int]]:
    """pid -> (CPU jiffies, start time in jiffies since boot) of other people's processes."""
    ours_groups = {*OURS, os.getpgid(0)}
    found = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            stat = Path(entry.path, "stat").read_text()
            command = Path(entry.path, "cmdline").read_bytes()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2 :].split()
        if int(fields[2]) in ours_groups or not _belongs_to_others(command):
            continue
        found[int(entry.name)] = (int(fields[11]) + int(fields[12]), int(fields[19]))
    return found


def _belongs_to_others(command: bytes) -> bool:
    """Kernel threads, Redis and PostgreSQL's own helpers are shared; our backends are ours."""
    if not command:
        return False
    text = command.decode(errors="replace")
    if text.startswith("postgres:"):
        parts = text.split()  # "postgres: 15/main: USER DATABASE HOST(PORT) STATE"
        return len(parts) >= 4 and parts[3] != DATABASE and "(" in text
    return not text.startswith(("redis-server", "/usr/lib/postgresql"))


class LoadWatch:
    """Samples while a phase runs: `with LoadWatch() as watch: ...; watch.load`."""

    def __init__(self, every: float = 1.0) -> None:
        self._every = every
        self._stop = threading.Event()
        self._loads: list[float] = []
        self._first: dict[int, int] = {}  # pid -> CPU jiffies when first seen
        self._last: dict[int, int] = {}
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self.load = Load(0.0, 0.0, 0.0, 0.0)

    def __enter__(self) -> LoadWatch:
        self._start_load = load_average()
        self._start_cpu = _cpu_jiffies()
        self._start_ticks = float(Path("/proc/uptime").read_text().split()[0]) * TICKS
        self._record(initial=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self._record(initial=False)
        busy, total = _cpu_jiffies()
        busy -= self._start_cpu[0]
        total -= self._start_cpu[1]
        others = sum(self._last[pid] - self._first[pid] for pid in self._last)
        cpus = os.cpu_count() or 1
        self.load = Load(
            load_start=self._start_load,
            load_max=max([self._start_load, *self._loads]),
            busy_percent=100 * busy / total if total else 0.0,
            others_cores=cpus * others / total if total else 0.0,
        )

    def _sample(self) -> None:
        while not self._stop.wait(self._every):
            self._loads.append(load_average())
            self._record(initial=False)

    def _record(self, initial: bool) -> None:
        for pid, (cpu, started) in _others().items():
            if pid not in self._first:
                # Already running when the phase began: count from now. Started during it: all.
                self._first[pid] = cpu if initial or started < self._start_ticks else 0
            self._last[pid] = cpu
