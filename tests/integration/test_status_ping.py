"""`engage status` pings the workers through kombu's mailbox, without importing Celery.

A running Celery worker must answer that ping as it answered `celery.control.ping` (Redis and
RabbitMQ alike), and a ping nobody answers must end at its timeout: kombu's Redis transport waits
for replies with a BRPOP of one second, and closing the connection read the one in flight, so a
0.2 s ping took 1.1 s.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import AbstractContextManager
from pathlib import Path

import pytest

from engage.ops.broker import ping_workers
from engage.settings import Settings
from tests.brokers import own_redis, own_vhost
from tests.processes import ROOT, processes, wait_until

pytestmark = pytest.mark.slow


def _own_broker(kind: str) -> AbstractContextManager[object]:
    return own_redis() if kind == "redis" else own_vhost()


@pytest.fixture(params=["redis", "amqp"])
def broker_url(request: pytest.FixtureRequest) -> Iterator[str]:
    with _own_broker(request.param) as broker:
        yield str(broker.url)  # type: ignore[attr-defined]


def test_a_running_worker_answers_the_ping(broker_url: str, tmp_path: Path) -> None:
    env = {
        "ENGAGE_DATABASE_URL": f"sqlite:///{tmp_path / 'engage.db'}",
        "ENGAGE_BROKER_URL": broker_url,
        "ENGAGE_SCHEDULE_PATH": str(ROOT / "schedules.yaml"),
        "ENGAGE_TEMPLATES_DIR": str(ROOT / "templates"),
        "ENGAGE_SIGNING_SECRET": "s" * 32,
        "ENGAGE_TWILIO_ACCOUNT_SID": "AC" + "0" * 32,
        "ENGAGE_TWILIO_AUTH_TOKEN": "t" * 32,
        "ENGAGE_TWILIO_FROM": "+15005550006",
        "ENGAGE_LOG_LEVEL": "WARNING",
    }
    settings = Settings(broker_url=broker_url)
    with processes(env, tmp_path / "logs") as procs:
        assert ping_workers(settings, 0.3) == []
        procs.start("worker", "worker", "-c", "1", "-Q", "sms")
        wait_until(lambda: bool(ping_workers(settings, 0.5)), 90, "the worker's pong")
        names = ping_workers(settings, 1.0, limit=1)
    assert names is not None and len(names) == 1
    assert names[0].startswith("engage@")  # the name the worker gave itself


def test_a_ping_nobody_answers_ends_at_its_timeout() -> None:
    with own_redis() as broker:
        settings = Settings(broker_url=broker.url)
        ping_workers(settings, 0.2)  # connect once: the timing below is the ping's alone
        started = time.perf_counter()
        assert ping_workers(settings, 0.2) == []
        took = time.perf_counter() - started
    assert took < 0.6, f"a 0.2 s ping took {took:.2f} s"
