"""The quiet-feed alert, tested by promtool (Prometheus' own rule tester) when it is installed."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"


def test_quiet_feed_alert_fires_in_clinic_hours_only() -> None:
    promtool = shutil.which("promtool")
    if promtool is None:  # .ci/run installs it (Debian's prometheus package)
        pytest.skip("promtool is not installed (apt-get install prometheus)")
    done = subprocess.run(
        [promtool, "test", "rules", "hl7-alerts.test.yml"],
        cwd=DEPLOY,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
