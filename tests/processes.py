"""Real engage processes for the integration tiers: start, wait for a condition, stop for sure."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
ENGAGE = [sys.executable, "-m", "engage"]


def write_project(folder: Path, schedule: dict, templates: dict[str, str]) -> tuple[Path, Path]:
    """A schedules.yaml and an `en` templates folder for processes to load."""
    folder.mkdir(parents=True, exist_ok=True)
    schedule_path = folder / "schedules.yaml"
    schedule_path.write_text(yaml.safe_dump(schedule, sort_keys=False))
    for name, source in templates.items():
        target = folder / "templates" / "en" / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(source)
    return schedule_path, folder / "templates"


class Processes:
    """Processes started by one test; all are killed at the end, whatever happens."""

    def __init__(self, env: dict[str, str], logs: Path) -> None:
        self.env = {**os.environ, **env}
        self.logs = logs
        self.started: list[subprocess.Popen[bytes]] = []

    def start(self, name: str, *args: str) -> subprocess.Popen[bytes]:
        log = open(self.logs / f"{name}.log", "wb")  # noqa: SIM115 - closed with the process
        proc = subprocess.Popen(
            [*ENGAGE, *args],
            env=self.env,
            cwd=ROOT,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self.started.append(proc)
        return proc

    def kill(self, proc: subprocess.Popen[bytes], sig: int = signal.SIGKILL) -> None:
        """Signal the whole process group (a Celery worker has children)."""
        with suppress(ProcessLookupError):
            os.killpg(proc.pid, sig)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=5)

    def stop_all(self) -> None:
        for proc in self.started:
            if proc.poll() is None:
                self.kill(proc, signal.SIGTERM)

    def log_of(self, name: str) -> str:
        return (self.logs / f"{name}.log").read_text(errors="replace")


@contextmanager
def processes(env: dict[str, str], logs: Path) -> Iterator[Processes]:
    logs.mkdir(parents=True, exist_ok=True)
    group = Processes(env, logs)
    try:
        yield group
    finally:
        group.stop_all()


def wait_until(
    condition: Callable[[], bool],
    timeout: float,
    what: str,
    interval: float = 0.25,
    report: Callable[[], object] = lambda: "",
) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what} {report()}")
