"""Dispatcher heartbeats: kept in Redis when there is one, in a file in embedded mode."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from engage.ops.heartbeat import PREFIX, TTL_SECONDS, beats, heartbeat, instance_name
from engage.settings import Settings

NOW = datetime(2027, 3, 10, 16, 0, tzinfo=UTC)


@pytest.fixture
def embedded(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Settings:
    monkeypatch.chdir(tmp_path)  # var/heartbeat lives beside the embedded database
    return Settings(broker_url="")


def test_an_embedded_dispatcher_beats_into_a_file(embedded: Settings) -> None:
    heartbeat(embedded, now=NOW)
    [beat] = beats(embedded, now=NOW + timedelta(seconds=5))
    assert beat.instance == instance_name() and beat.age(NOW + timedelta(seconds=5)) == 5


def test_a_beat_older_than_the_ttl_is_forgotten(embedded: Settings) -> None:
    heartbeat(embedded, now=NOW)
    assert beats(embedded, now=NOW + timedelta(seconds=TTL_SECONDS + 1)) == []
    assert list(Path("var/heartbeat/dispatcher").iterdir()) == []


@pytest.fixture
def clean_redis(redis_url: str) -> Iterator[str]:
    import redis

    client = redis.Redis.from_url(redis_url)
    yield redis_url
    for key in client.scan_iter(match=f"{PREFIX}:*"):
        client.delete(key)


@pytest.mark.redis
def test_a_dispatcher_beats_into_redis_where_every_machine_sees_it(clean_redis: str) -> None:
    settings = Settings(broker_url=clean_redis)
    heartbeat(settings, now=NOW)
    [beat] = beats(settings, now=NOW)
    assert (beat.role, beat.instance, beat.at) == ("dispatcher", instance_name(), NOW)


@pytest.mark.redis
def test_with_rabbitmq_the_beat_goes_to_the_rate_limit_redis(clean_redis: str) -> None:
    settings = Settings(broker_url="amqp://guest:guest@127.0.0.1:5672//", redis_url=clean_redis)
    heartbeat(settings, "dispatcher", now=NOW)
    assert [b.instance for b in beats(Settings(broker_url=clean_redis), now=NOW)] == [
        instance_name()
    ]


def test_a_lost_beat_never_raises() -> None:
    heartbeat(Settings(broker_url="redis://127.0.0.1:1/0"))
