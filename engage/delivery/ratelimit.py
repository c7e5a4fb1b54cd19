"""Per-provider send rate limits: `acquire(provider)` sleeps until one more send is allowed.

Both limiters use GCRA (the generic cell rate algorithm, a token bucket kept as one timestamp):
each send pushes the provider's "theoretical arrival time" (TAT) one interval, 1/rate, into the
future; a send may go when TAT is at most `burst - 1` intervals ahead of now. `RedisRateLimiter`
keeps TAT in Redis and updates it in a Lua script, so every worker process on every machine
shares one budget per provider; `LocalRateLimiter` keeps it in memory for the embedded mode.
Providers without a configured rate (file, console) are not limited.

A send goes the moment it is granted, never after a sleep: a thread woken late on a busy
machine must not carry an old grant into a later second (the provider would see a burst).
Waiters queue per provider inside a process (one lock each), so one thread polls at a time instead
of hundreds waking together and racing for each free slot.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Protocol

import redis

from engage.settings import Settings


class RateLimiter(Protocol):
    def acquire(self, provider: str) -> None:
        """Block until `provider` may take one more send."""
        ...


def rates_from_settings(settings: Settings) -> dict[str, float]:
    """Sends per second for each metered provider."""
    return {"twilio": settings.sms_rate_per_second, "sendgrid": settings.email_rate_per_second}


@dataclass(frozen=True)
class Gcra:
    """One provider's rate as GCRA parameters, in seconds."""

    interval: float  # 1 / rate
    tolerance: float  # (burst - 1) * interval: how far ahead of now TAT may run

    @classmethod
    def of(cls, rate: float, burst: int = 1) -> Gcra:
        if rate <= 0 or burst < 1:
            raise ValueError(f"bad rate {rate}/s, burst {burst}")
        return cls(1.0 / rate, (burst - 1) / rate)

    def decide(self, tat: float, now: float) -> tuple[float, float]:
        """(seconds to wait, new TAT): a wait of 0 means go now and store the new TAT."""
        tat = max(tat, now)
        wait = tat - self.tolerance - now
        if wait > 0:
            return wait, tat
        return 0.0, tat + self.interval


class LocalRateLimiter:
    """In-process limiter for the embedded mode: threads of one process share it."""

    def __init__(
        self,
        rates: Mapping[str, float],
        burst: int = 1,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._limits = {name: Gcra.of(rate, burst) for name, rate in rates.items()}
        self._tat: dict[str, float] = {}
        self._turns = {name: threading.Lock() for name in self._limits}
        self._clock = clock
        self._sleep = sleep

    def acquire(self, provider: str) -> None:
        limit = self._limits.get(provider)
        if limit is None:
            return
        with self._turns[provider]:
            while True:
                wait, tat = limit.decide(self._tat.get(provider, 0.0), self._clock())
                if not wait:
                    self._tat[provider] = tat
                    return
                self._sleep(wait)


# KEYS[1] the provider's TAT key; ARGV interval and tolerance in microseconds. Redis's own clock,
# so machines with skewed clocks still share one schedule. Returns microseconds to wait, 0 = go.
_GCRA_LUA = """
local interval = tonumber(ARGV[1])
local tolerance = tonumber(ARGV[2])
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local tat = tonumber(redis.call('GET', KEYS[1]) or now)
if tat < now then tat = now end
local wait = tat - tolerance - now
if wait > 0 then return wait end
tat = tat + interval
redis.call('SET', KEYS[1], string.format('%d', tat), 'PX', math.ceil((tat - now) / 1000) + 1000)
return 0
"""


class RedisRateLimiter:
    """Limiter shared by every process that talks to the same Redis."""

    def __init__(
        self,
        client: redis.Redis,
        rates: Mapping[str, float],
        burst: int = 1,
        prefix: str = "engage:ratelimit:",
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._limits = {name: Gcra.of(rate, burst) for name, rate in rates.items()}
        self._script = client.register_script(_GCRA_LUA)
        self._prefix = prefix
        self._sleep = sleep
        # The thread holding a provider's lock is the only one of this process asking Redis.
        self._turns = {name: threading.Lock() for name in self._limits}

    def acquire(self, provider: str) -> None:
        limit = self._limits.get(provider)
        if limit is None:
            return
        args = [round(limit.interval * 1e6), round(limit.tolerance * 1e6)]
        with self._turns[provider]:
            while True:
                wait_us = int(self._script(keys=[self._prefix + provider], args=args))
                if wait_us <= 0:
                    return
                self._sleep(wait_us / 1e6)


def build_rate_limiter(settings: Settings) -> RateLimiter:
    """Redis (ENGAGE_REDIS_URL, or the broker when it is Redis) shares the limit across every
    worker on every machine; without Redis the limit is per process."""
    rates = rates_from_settings(settings)
    url = settings.redis_url or settings.broker_url
    if url.startswith(("redis://", "rediss://")):
        # One connection per provider call a worker may have out; a call beyond that waits for
        # a free connection rather than failing (redis-py's default pool raises past 100).
        pool = redis.BlockingConnectionPool.from_url(
            url, max_connections=settings.provider_calls, timeout=settings.send_timeout_seconds
        )
        return RedisRateLimiter(redis.Redis(connection_pool=pool), rates)
    return LocalRateLimiter(rates)
