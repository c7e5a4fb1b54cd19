"""A running worker shows as alive where no ping can travel: the embedded default.

The filesystem transport has no broadcast, so `engage status` and the console's Operations page
said "unknown" (the console: "broker unreachable") beside a worker that was sending. Workers now
beat from their own timer; status reads the beats when a ping cannot be sent.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest

from engage.ops.status import gather
from engage.settings import Settings
from engage.store.db import make_engine, session_factory
from engage.store.migrate import upgrade
from tests.processes import ROOT, wait_until


@pytest.mark.slow
def test_an_embedded_worker_is_reported_alive_by_its_beat(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    db = f"sqlite:///{tmp_path / 'engage.db'}"
    upgrade(db)
    env = {k: v for k, v in os.environ.items() if not k.startswith("ENGAGE_")} | {
        "ENGAGE_DATABASE_URL": db,
        "ENGAGE_SCHEDULE_PATH": str(ROOT / "schedules.yaml"),
        "ENGAGE_TEMPLATES_DIR": str(ROOT / "templates"),
    }
    log = (tmp_path / "worker.log").open("wb")
    worker = subprocess.Popen(
        [sys.executable, "-m", "engage", "worker", "-c", "2"],
        cwd=tmp_path,  # embedded broker and beats live under ./var, as with `make run`
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    monkeypatch.chdir(tmp_path)
    settings = Settings(
        database_url=db,
        schedule_path=ROOT / "schedules.yaml",
        templates_dir=ROOT / "templates",
    )
    engine = make_engine(db)
    name = f"{socket.gethostname()}:{worker.pid}"
    try:

        def workers() -> tuple[str, ...] | None:
            return gather(settings, session_factory(engine), datetime.now(UTC)).workers

        wait_until(lambda: name in (workers() or ()), timeout=60, what="the worker's beat")
        assert workers() == (name,)
    finally:
        worker.kill()
        worker.wait(timeout=20)
        log.close()
        engine.dispose()


def test_beats_speak_for_workers_too_busy_to_answer_a_ping(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A thread-pool worker deep in a burst may miss the 0.5 s ping: status said "none alive"
    beside a worker that beat seconds ago."""
    from concurrent.futures import Future

    from engage.ops.broker import QueueDepths
    from engage.ops.heartbeat import heartbeat, instance_name

    db = f"sqlite:///{tmp_path / 'engage.db'}"
    upgrade(db)
    monkeypatch.chdir(tmp_path)
    settings = Settings(database_url=db)
    engine = make_engine(db)
    nobody_answered: Future[tuple[QueueDepths, list[str] | None]] = Future()
    nobody_answered.set_result((QueueDepths({"sms": 0}), []))
    try:
        sessions = session_factory(engine)
        now = datetime.now(UTC)
        assert gather(settings, sessions, now, broker=nobody_answered).workers == ()
        heartbeat(settings, "worker")
        snap = gather(settings, sessions, datetime.now(UTC), broker=nobody_answered)
        assert snap.workers == (instance_name(),)
    finally:
        engine.dispose()
