"""`engage run` on the embedded default, as a newcomer starts it: what it prints, where it writes.

The banner must name the console's URL and how to sign in (on a new database: the command that
creates the first admin), and the run must leave nothing beside the project but var/ and the
database: kombu's filesystem transport put a `control/` folder in the working directory.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import urllib.request
from pathlib import Path

from tests.brokers import free_port
from tests.processes import ROOT, wait_until


def test_a_first_run_prints_the_console_and_how_to_sign_in(tmp_path: Path) -> None:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("ENGAGE_")} | {
        "ENGAGE_SCHEDULE_PATH": str(ROOT / "schedules.yaml"),
        "ENGAGE_TEMPLATES_DIR": str(ROOT / "templates"),
    }
    log = tmp_path / "run.log"
    work = tmp_path / "clinic"
    work.mkdir()
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "engage", "run", "--port", str(port), "--no-samples"],
            cwd=work,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        wait_until(lambda: "ready" in log.read_text(), 90, "the worker", report=log.read_text)
        text = log.read_text()
        assert f"http://127.0.0.1:{port}/console/" in text
        assert "engage users create admin --role admin" in text
        assert "Warning" not in text.split("engage running")[0]  # nothing alarming comes first
        wait_until(lambda: _serves(f"http://127.0.0.1:{port}/console/signin"), 60, "the console")
        assert {p.name for p in work.iterdir()} <= {
            "engage.db",
            "engage.db-shm",
            "engage.db-wal",
            "var",
        }
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)


def _serves(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=5) as page:
            return page.status == 200 and b"Sign in" in page.read()
    except OSError:
        return False
