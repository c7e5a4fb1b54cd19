"""Real Celery worker and dispatcher processes against real Redis, RabbitMQ and PostgreSQL.

The providers are our fake server (the real Twilio SDK speaks to it); it records every request,
so "sent exactly once" is counted on the wire, not in our own tables.
"""

from __future__ import annotations

import collections
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
import sqlalchemy as sa

from engage.ops.heartbeat import beats
from engage.settings import Settings
from engage.store import Base, Message, MessageState
from engage.store.db import make_engine, session_factory
from engage.store.migrate import upgrade
from tests.brokers import own_redis
from tests.fakes.provider_server import TWILIO, ProviderServer
from tests.outbox_fill import LOAD_SCHEDULE, LOAD_TEMPLATES, fill
from tests.processes import processes, wait_until, write_project

FINAL = {MessageState.SENT, MessageState.FAILED, MessageState.SUPPRESSED, MessageState.CANCELLED}
pytestmark = [pytest.mark.postgres, pytest.mark.slow]


@pytest.fixture
def pg_url(postgres_server_url: str) -> str:
    engine = sa.create_engine(postgres_server_url)
    with engine.begin() as conn:
        Base.metadata.drop_all(conn)
        conn.execute(sa.text("DROP TABLE IF EXISTS alembic_version"))
    engine.dispose()
    upgrade(postgres_server_url)
    return postgres_server_url


@pytest.fixture
def broker(redis_url: str) -> Iterator[str]:
    url = redis_url.rsplit("/", 1)[0] + "/14"
    redis.Redis.from_url(url).flushdb()
    yield url
    redis.Redis.from_url(url).flushdb()


def env_for(
    db: str, broker_url: str, fake: ProviderServer, project: Path, **extra: str
) -> dict[str, str]:
    schedule, templates = write_project(project, LOAD_SCHEDULE, LOAD_TEMPLATES)
    return {
        "ENGAGE_DATABASE_URL": db,
        "ENGAGE_BROKER_URL": broker_url,
        "ENGAGE_SCHEDULE_PATH": str(schedule),
        "ENGAGE_TEMPLATES_DIR": str(templates),
        "ENGAGE_TWILIO_ACCOUNT_SID": "AC" + "0" * 32,
        "ENGAGE_TWILIO_AUTH_TOKEN": "t" * 32,  # refused if shorter (engage.settings.secret_checks)
        "ENGAGE_SIGNING_SECRET": "s" * 32,
        "ENGAGE_TWILIO_FROM": "+15005550006",
        "ENGAGE_TWILIO_BASE_URL": fake.url,
        "ENGAGE_SMS_RATE_PER_SECOND": "100000",
        "ENGAGE_DISPATCH_INTERVAL_SECONDS": "0.5",
        "ENGAGE_LOG_LEVEL": "WARNING",
        **extra,
    }


def states(db: str) -> collections.Counter[str]:
    engine = make_engine(db)
    with engine.connect() as conn:
        rows = conn.execute(sa.select(Message.state, sa.func.count()).group_by(Message.state)).all()
    engine.dispose()
    return collections.Counter({str(state): n for state, n in rows})


def sent_ids(fake: ProviderServer) -> list[int]:
    return [int(r.form()["StatusCallback"].rsplit("/", 1)[1]) for r in fake.requests_to(TWILIO)]


def test_two_dispatchers_and_four_workers_send_5000_messages_exactly_once(
    pg_url: str, broker: str, tmp_path: Path
) -> None:
    ids = fill(session_factory(make_engine(pg_url)), 5000)
    with (
        ProviderServer(latency_ms=5) as fake,
        processes(env_for(pg_url, broker, fake, tmp_path), tmp_path / "logs") as procs,
    ):
        for n in range(2):
            procs.start(f"dispatcher{n}", "dispatcher")
        for n in range(4):
            procs.start(f"worker{n}", "worker", "-c", "8", "-Q", "sms,email")
        wait_until(lambda: states(pg_url)["sent"] == 5000, 240, "5000 messages sent")
        time.sleep(1.0)  # any duplicate still in flight would land now
        wire = sent_ids(fake)
        alive = beats(Settings(broker_url=broker), "dispatcher")
    assert len(wire) == 5000, f"{len(wire) - len(set(wire))} duplicates"
    assert sorted(wire) == sorted(ids)
    assert len(alive) == 2, "each dispatcher beats once per tick for `engage status`"


def test_a_worker_killed_mid_batch_loses_nothing(pg_url: str, tmp_path: Path) -> None:
    """A killed worker's share is back within its lease and a recovery, not `stuck_after`.

    `stuck_after` is 600 s here, out of reach of the budget. The victim holds up to 8 tasks of 50 (and Celery
    may reserve one more it has not started): every row a started task took, `queued` or
    `sending`, comes back through its lease (5 s here); a task reserved but not started has no
    lease, and Redis hands it back after the visibility timeout (two leases, at least 60 s, then
    its restore check). The budget, 280 s after the kill, ends before `stuck_after` counted from
    the claim, so only those two paths can pass it. The broker is a redis-server of the test's
    own: a shared database number would let another run's workers take (or flush) ours.
    """
    ids = fill(session_factory(make_engine(pg_url)), 600)
    with own_redis() as broker, ProviderServer(latency_ms=50) as fake:
        env = env_for(
            pg_url,
            broker.url,
            fake,
            tmp_path,
            ENGAGE_SEND_LEASE_SECONDS="5",
            ENGAGE_STUCK_AFTER_SECONDS="600",
        )
        with processes(env, tmp_path / "logs") as procs:
            procs.start("dispatcher", "dispatcher")
            victim = procs.start("worker-victim", "worker", "-c", "8", "-Q", "sms")
            wait_until(lambda: states(pg_url)["sent"] >= 100, 120, "the first 100 sends")
            in_flight = states(pg_url)["sending"]
            procs.kill(victim, signal.SIGKILL)
            after_kill = states(pg_url)
            assert after_kill["sent"] < 600, "the batch finished before the kill; nothing tested"
            procs.start("worker-survivor", "worker", "-c", "8", "-Q", "sms")
            unacked = redis.Redis.from_url(broker.url).hlen("unacked")
            wait_until(
                lambda: states(pg_url)["sent"] == 600,
                280,
                "every message sent after recovery",
                report=lambda: (dict(after_kill), unacked, dict(states(pg_url))),
            )
            wire = sent_ids(fake)
    assert set(wire) == set(ids), "a message was lost"
    duplicates = len(wire) - len(set(wire))
    # Only a message the provider had accepted when its worker died can go out twice: the
    # documented residual window, bounded by what was in `sending` at the kill.
    assert duplicates <= max(in_flight, after_kill["sending"]) + 8


@pytest.mark.rabbitmq
def test_worker_sends_through_rabbitmq(pg_url: str, rabbitmq_url: str, tmp_path: Path) -> None:
    ids = fill(session_factory(make_engine(pg_url)), 50)
    with (
        ProviderServer() as fake,
        processes(env_for(pg_url, rabbitmq_url, fake, tmp_path), tmp_path / "logs") as procs,
    ):
        procs.start("dispatcher", "dispatcher")
        procs.start("worker", "worker", "-c", "4", "-Q", "sms")
        wait_until(lambda: states(pg_url)["sent"] == 50, 90, "50 messages sent via RabbitMQ")
        assert sorted(sent_ids(fake)) == sorted(ids)


@pytest.mark.redis
def test_worker_and_dispatcher_fail_loudly_on_a_malformed_setting(tmp_path: Path) -> None:
    with processes({"ENGAGE_MAX_ATTEMPTS": "many"}, tmp_path / "logs") as procs:
        proc = procs.start("dispatcher", "dispatcher")
        assert proc.wait(timeout=60) == 2
        assert "ENGAGE_MAX_ATTEMPTS" in procs.log_of("dispatcher")
