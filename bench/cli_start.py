"""How long a command takes before it does anything: CPU of `engage --help`, `engage validate`
and, as a reference measured in the same run, `celery --help`."""

from __future__ import annotations

import os
import resource
import subprocess
import sys
from dataclasses import dataclass

from bench.procs import ENGAGE, ROOT

RUNS = 5


@dataclass(frozen=True)
class StartResult:
    command: str
    cpu_seconds: float  # median of RUNS, user + system, the child's whole life


def _cpu_of(argv: list[str]) -> float:
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    subprocess.run(argv, cwd=ROOT, capture_output=True, check=False, env={**os.environ})
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def measure(runs: int = RUNS) -> list[StartResult]:
    commands = {
        "engage --help": [*ENGAGE, "--help"],
        "engage validate": [*ENGAGE, "validate"],
        "celery --help": [sys.executable, "-m", "celery", "--help"],
    }
    results = []
    for label, argv in commands.items():
        _cpu_of(argv)  # warm the page cache and .pyc files
        samples = sorted(_cpu_of(argv) for _ in range(runs))
        results.append(StartResult(label, samples[len(samples) // 2]))
    return results
