"""`engage worker --pool gevent`: a real worker process against Redis and PostgreSQL.

The entry point monkey-patches before anything imports a socket, so psycopg, redis and the Twilio
SDK yield to each other: the sends of one process overlap on the wire instead of queueing.
"""

from __future__ import annotations

import importlib.util
import signal
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest
import redis
import sqlalchemy as sa

from engage.store import Message
from engage.store.db import make_engine, session_factory
from tests.fakes.provider_server import ProviderServer
from tests.integration.test_workers import env_for, pg_url, sent_ids, states
from tests.outbox_fill import fill
from tests.processes import processes, wait_until

__all__ = ["pg_url"]  # a fixture shared with test_workers


@pytest.fixture
def broker(redis_url: str) -> Iterator[str]:
    """Redis database 12, our own: 13 is the benchmark's, 14 test_workers' (whose workers would
    take these tasks if they ran at the same time), 15 the other Redis tests'."""
    url = redis_url.rsplit("/", 1)[0] + "/12"
    redis.Redis.from_url(url).flushdb()
    yield url
    redis.Redis.from_url(url).flushdb()


def most_sends_at_once(db: str) -> int:
    """The most messages that were between `sending` and `sent` at the same moment."""
    engine = make_engine(db)
    with engine.connect() as conn:
        spans = conn.execute(sa.select(Message.sending_at, Message.sent_at)).all()
    engine.dispose()
    edges: list[tuple[datetime, int]] = []
    for start, end in spans:
        edges += [(start, 1), (end, -1)]
    current = peak = 0
    for _, step in sorted(edges):  # an end sorts before a start at the same instant
        current += step
        peak = max(peak, current)
    return peak


@pytest.mark.postgres
@pytest.mark.redis
@pytest.mark.slow
def test_gevent_worker_sends_concurrently_and_stops_cleanly(
    pg_url: str, broker: str, tmp_path: Path
) -> None:
    ids = fill(session_factory(make_engine(pg_url)), 24)  # under 32: one task per message
    with (
        ProviderServer(latency_ms=300) as fake,
        processes(env_for(pg_url, broker, fake, tmp_path), tmp_path / "logs") as procs,
    ):
        procs.start("dispatcher", "dispatcher")
        worker = procs.start("worker", "worker", "--pool", "gevent", "-c", "8", "-Q", "sms")
        wait_until(
            lambda: states(pg_url)["sent"] == 24,
            90,
            "24 messages sent by the gevent worker",
            report=lambda: (dict(states(pg_url)), procs.log_of("worker")[-3000:]),
        )
        wire = sent_ids(fake)
        procs.kill(worker, signal.SIGTERM)
        log = procs.log_of("worker")
    assert sorted(wire) == sorted(ids)
    assert worker.returncode == 0, log[-3000:]
    assert "(gevent)" in log, "the banner names the pool"
    # Unpatched, each greenlet would block the process for its whole 300 ms provider call.
    assert most_sends_at_once(pg_url) >= 4


def test_a_green_pool_that_is_not_installed_is_one_line_and_exit_2(tmp_path: Path) -> None:
    if importlib.util.find_spec("eventlet"):
        pytest.skip("eventlet is installed here")
    with processes({}, tmp_path / "logs") as procs:
        proc = procs.start("worker", "worker", "-P", "eventlet")
        assert proc.wait(timeout=60) == 2
        assert procs.log_of("worker").strip() == "error: --pool eventlet: eventlet is not installed"
