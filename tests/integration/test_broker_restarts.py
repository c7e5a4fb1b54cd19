"""Workers outlive their broker: a Redis restart (nothing persisted) and RabbitMQ dropping every
connection, each with work in flight, leave the same worker process consuming within 10 s.

And a worker that does stop on an error says so in its exit status, so a supervisor restarts it.
"""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest

from engage.store.db import make_engine, session_factory
from tests.brokers import own_redis, own_vhost
from tests.fakes.provider_server import ProviderServer
from tests.integration.test_workers import env_for, pg_url, sent_ids, states
from tests.outbox_fill import fill
from tests.processes import ROOT, Processes, processes, wait_until

__all__ = ["pg_url"]  # the fixture, shared with test_workers
pytestmark = [pytest.mark.postgres, pytest.mark.slow]

BACK_WITHIN = 10.0  # seconds from the broker answering again to a fresh message on the wire


def _work_in_flight(db: str) -> None:
    wait_until(
        lambda: states(db)["sent"] >= 20 and states(db)["sending"] > 0,
        60,
        "sends in flight",
        interval=0.05,
        report=lambda: dict(states(db)),
    )


def _consuming_again(db: str, fake: ProviderServer, back_at: float) -> float:
    """Seconds from `back_at` until messages made due after the outage reach the provider."""
    fresh = fill(session_factory(make_engine(db)), 5, due=datetime.now(UTC), phone="+14155550142")
    wait_until(
        lambda: set(fresh) <= set(sent_ids(fake)),
        BACK_WITHIN + 20,
        "messages due after the broker came back",
        interval=0.1,
    )
    return time.monotonic() - back_at


def _run_outage(
    procs: Processes, db: str, fake: ProviderServer, break_broker: Callable[[], float]
) -> float:
    ids = fill(session_factory(make_engine(db)), 300)
    procs.start("dispatcher", "dispatcher")
    worker = procs.start("worker", "worker", "-c", "4", "-Q", "sms")
    _work_in_flight(db)
    back_at = break_broker()
    took = _consuming_again(db, fake, back_at)
    assert worker.poll() is None, f"the worker exited ({worker.returncode}) on the outage"
    # Nothing is lost: what the broker forgot is given back by stuck recovery.
    wait_until(
        lambda: set(ids) <= set(sent_ids(fake)),
        90,
        "every message of the batch sent",
        report=lambda: dict(states(db)),
    )
    return took


def test_a_worker_with_work_in_flight_survives_a_redis_restart(pg_url: str, tmp_path: Path) -> None:
    with own_redis() as broker, ProviderServer(latency_ms=100) as fake:
        env = env_for(pg_url, broker.url, fake, tmp_path, ENGAGE_STUCK_AFTER_SECONDS="10")
        with processes(env, tmp_path / "logs") as procs:
            took = _run_outage(procs, pg_url, fake, lambda: broker.restart(down_for=1.0))
    assert took < BACK_WITHIN, f"consuming again only {took:.1f} s after Redis came back"


@pytest.mark.rabbitmq
def test_a_worker_with_work_in_flight_survives_rabbitmq_closing_its_connections(
    pg_url: str, tmp_path: Path
) -> None:
    with own_vhost() as vhost, ProviderServer(latency_ms=100) as fake:
        env = env_for(pg_url, vhost.url, fake, tmp_path, ENGAGE_STUCK_AFTER_SECONDS="10")
        with processes(env, tmp_path / "logs") as procs:
            took = _run_outage(procs, pg_url, fake, vhost.close_connections)
    assert took < BACK_WITHIN, f"consuming again only {took:.1f} s after the connections closed"


def test_a_worker_ended_by_an_unrecoverable_error_exits_non_zero(tmp_path: Path) -> None:
    # The error kombu raised on a Redis restart ended the worker with status 0 (Celery's
    # worker_main drops the status), so `Restart=on-failure` left the clinic with no workers.
    done = subprocess.run(
        [sys.executable, "-m", "tests.fakes.failing_worker", "-c", "1", "-Q", "sms"],
        cwd=ROOT,
        env={"PATH": "/usr/bin:/bin", "ENGAGE_LOG_LEVEL": "WARNING", "HOME": str(tmp_path)},
        capture_output=True,
        timeout=60,
    )
    assert b"Unrecoverable error" in done.stdout + done.stderr
    assert done.returncode != 0
