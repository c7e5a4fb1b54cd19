"""Processes a phase starts (workers, dispatchers, the fake provider), measured and stopped for sure.

Each one leads its own process group, so its memory is the sum over the group (a prefork
worker has children) and a stop reaches every child. Only processes started here are signalled.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
ENGAGE = [sys.executable, "-m", "engage"]
OURS: set[int] = set()  # process groups this run started (bench.machine tells them from others')


class Group:
    """The processes of one phase; every one is stopped when the phase ends."""

    def __init__(self, env: dict[str, str], logs: Path) -> None:
        self.env = {**os.environ, **env}
        self.logs = logs
        self.started: dict[str, subprocess.Popen[bytes]] = {}
        logs.mkdir(parents=True, exist_ok=True)

    def start(self, name: str, argv: list[str]) -> subprocess.Popen[bytes]:
        log = open(self.logs / f"{name}.log", "wb")  # noqa: SIM115 - lives as long as the process
        proc = subprocess.Popen(
            argv,
            env=self.env,
            cwd=ROOT,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self.started[name] = proc
        OURS.add(proc.pid)  # it leads its own group: pgid == pid
        return proc

    def engage(self, name: str, *args: str) -> subprocess.Popen[bytes]:
        return self.start(name, [*ENGAGE, *args])

    def stop(self, name: str) -> None:
        proc = self.started.pop(name)
        _stop(proc)

    def stop_all(self) -> None:
        for name in list(self.started):
            self.stop(name)

    def rss_bytes(self, name: str) -> int:
        return group_rss(self.started[name].pid)

    def alive(self) -> list[str]:
        return [name for name, proc in self.started.items() if proc.poll() is None]


def _stop(proc: subprocess.Popen[bytes]) -> None:
    with suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        with suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=5)


@contextmanager
def group(env: dict[str, str], logs: Path) -> Iterator[Group]:
    procs = Group(env, logs)
    try:
        yield procs
    finally:
        procs.stop_all()


def group_rss(pgid: int) -> int:
    """Resident memory (VmRSS) summed over every process in process group `pgid`, in bytes."""
    total = 0
    for pid in _members(pgid):
        try:
            status = Path(f"/proc/{pid}/status").read_text()
        except OSError:
            continue  # gone meanwhile
        for line in status.splitlines():
            if line.startswith("VmRSS:"):
                total += int(line.split()[1]) * 1024
    return total


def wait_until(
    condition: Callable[[], bool], timeout: float, what: str, every: float = 0.25
) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(every)
    raise TimeoutError(f"timed out after {timeout:.0f}s waiting for {what}")


def group_cpu_seconds(pgid: int) -> float:
    """User + system CPU seconds used so far by every live process in group `pgid`."""
    return sum(cpu_seconds(pid) for pid in _members(pgid))


def cpu_seconds(pid: int) -> float:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return 0.0
    fields = stat[stat.rindex(")") + 2 :].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime, stime


def _members(pgid: int) -> list[int]:
    pids = []
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            try:
                stat = Path(entry.path, "stat").read_text()
            except OSError:
                continue
            if int(stat[stat.rindex(")") + 2 :].split()[2]) == pgid:  # state, ppid, pgrp
                pids.append(int(entry.name))
    return pids
