"""The Redis limiter is one budget per provider across processes: hammer it, count per window."""

from __future__ import annotations

import multiprocessing
import threading
import time
import uuid

import pytest
import redis

from engage.delivery.ratelimit import RedisRateLimiter, build_rate_limiter
from engage.settings import Settings

pytestmark = pytest.mark.redis

RATE = 40.0  # sends per second for the provider under test
SECONDS = 1.5
PROCESSES = 4


def hammer(url: str, prefix: str, go, out) -> None:
    """One worker process: once all are ready, acquire as fast as allowed; report grant times."""
    limiter = RedisRateLimiter(redis.Redis.from_url(url), {"twilio": RATE}, prefix=prefix)
    out.put("ready")
    go.wait(timeout=60)
    until = time.monotonic() + SECONDS
    granted = []
    while time.monotonic() < until:  # CLOCK_MONOTONIC is one clock for every process here
        limiter.acquire("twilio")
        granted.append(time.monotonic())
    out.put(granted)


def most_in_any_window(times: list[float], window: float) -> int:
    times, most, start = sorted(times), 0, 0
    for end, moment in enumerate(times):
        while moment - times[start] > window:
            start += 1
        most = max(most, end - start + 1)
    return most


def test_processes_hammering_one_provider_never_exceed_its_rate(redis_url):
    prefix = f"engage:test:{uuid.uuid4().hex}:"
    context = multiprocessing.get_context("spawn")
    out, go = context.Queue(), context.Event()
    workers = [
        context.Process(target=hammer, args=(redis_url, prefix, go, out)) for _ in range(PROCESSES)
    ]
    for worker in workers:
        worker.start()
    assert [out.get(timeout=60) for _ in workers] == ["ready"] * PROCESSES
    go.set()  # all start together: spawn start-up takes a while on a busy machine
    grants = [out.get(timeout=30) for _ in workers]
    for worker in workers:
        worker.join(timeout=10)
    times = [t for granted in grants for t in granted]
    assert all(granted for granted in grants), "every process got some sends"
    # 1 burst + RATE per second; +1 for the moment a grant is timed after the Redis decision.
    assert most_in_any_window(times, 0.5) <= RATE * 0.5 + 2
    assert most_in_any_window(times, 1.0) <= RATE * 1.0 + 2
    assert len(times) >= RATE * SECONDS * 0.8  # and the budget is used, not starved


def test_two_limiters_on_one_redis_share_a_budget_but_not_across_providers(redis_url):
    prefix = f"engage:test:{uuid.uuid4().hex}:"
    client = redis.Redis.from_url(redis_url)
    rates = {"twilio": 10.0, "sendgrid": 10.0}
    one, two = (
        RedisRateLimiter(client, rates, prefix=prefix),
        RedisRateLimiter(client, rates, prefix=prefix),
    )
    started = time.monotonic()
    for _ in range(3):
        one.acquire("twilio")
        two.acquire("twilio")
    assert time.monotonic() - started >= 5 / 10.0 - 0.02  # six sends need five intervals
    started = time.monotonic()
    one.acquire("sendgrid")
    one.acquire("file")  # unmetered
    assert time.monotonic() - started < 0.05


def test_the_key_expires_once_the_provider_is_idle(redis_url):
    prefix = f"engage:test:{uuid.uuid4().hex}:"
    client = redis.Redis.from_url(redis_url)
    RedisRateLimiter(client, {"twilio": 100.0}, prefix=prefix).acquire("twilio")
    assert 0 < client.pttl(prefix + "twilio") <= 1_100


def test_a_redis_broker_gives_the_shared_limiter(redis_url):
    assert isinstance(build_rate_limiter(Settings(broker_url=redis_url)), RedisRateLimiter)


def test_more_threads_than_redis_connections_wait_rather_than_fail(redis_url):
    # A worker has up to `provider_calls` sends out at once, each asking the limiter first.
    settings = Settings(
        redis_url=redis_url, send_concurrency=4, send_chunk_size=5, sms_rate_per_second=10_000
    )
    limiter = build_rate_limiter(settings)
    errors: list[BaseException] = []

    def send() -> None:
        try:
            for _ in range(5):
                limiter.acquire("twilio")
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=send) for _ in range(150)]  # redis-py's pool raises past 100
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert errors == [] and not any(t.is_alive() for t in threads)
