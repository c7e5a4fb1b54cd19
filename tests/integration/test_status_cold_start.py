"""`engage status` starts without Celery, SQLAlchemy's ORM or the model registry.

They were most of its 1.8 s on a million patients (the ORM and models 0.75 s, Celery for the
worker ping 0.4 s): the ping goes through kombu's mailbox and the reads through SQLAlchemy Core
(engage.ops.outbox_tables), so a status that imports them again is slow again.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from engage.store.migrate import upgrade
from tests.processes import ROOT

CHECK = """
import sys
from engage.cli.main import app
try:
    app(["status", "--json"])
except SystemExit as done:
    assert not done.code, done.code
heavy = ("celery", "sqlalchemy.orm", "engage.store", "engage.delivery", "engage.schedule")
print(sorted(m for m in sys.modules if m.split(".")[0] == "celery" or m.startswith(heavy)))
"""


def test_status_answers_without_importing_celery_or_the_orm(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'engage.db'}"
    upgrade(db)
    env = {k: v for k, v in os.environ.items() if not k.startswith("ENGAGE_")} | {
        "ENGAGE_DATABASE_URL": db,
        "ENGAGE_SCHEDULE_PATH": str(ROOT / "schedules.yaml"),
        "ENGAGE_TEMPLATES_DIR": str(ROOT / "templates"),
    }
    done = subprocess.run(
        [sys.executable, "-c", CHECK],
        cwd=tmp_path,  # the embedded broker lives under ./var
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    *answer, imported = done.stdout.strip().splitlines()
    snap = json.loads("\n".join(answer))
    assert snap["backlog"]["total"] == 0 and snap["queues"]["error"] is None
    assert imported == "[]"
