"""Commands run during a database outage: one line saying which database and what to check.

`engage status` (and every other command) printed a fifty-line psycopg/SQLAlchemy traceback
when PostgreSQL was down; the line must not show the URL's password either.
"""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from tests.brokers import free_port
from tests.processes import ROOT


@pytest.mark.parametrize("command", [["status"], ["failed", "list"], ["timeline", "1"]])
def test_a_database_that_refuses_is_one_line_not_a_traceback(command: list[str]) -> None:
    url = f"postgresql+psycopg://engage:s3cret@127.0.0.1:{free_port()}/clinic"
    env = {k: v for k, v in os.environ.items() if not k.startswith("ENGAGE_")}
    done = subprocess.run(
        [sys.executable, "-m", "engage", *command],
        env=env | {"ENGAGE_DATABASE_URL": url},
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 1
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in done.stderr, done.stderr
    assert lines[0].startswith("engage: the database postgresql+psycopg://engage:***@127.0.0.1:")
    assert "Connection refused" in lines[0] and "s3cret" not in done.stderr + done.stdout
