"""GCRA and the in-process limiter: sends are spaced 1/rate apart, bursts are bounded."""

from __future__ import annotations

import threading
import time

import pytest
from hypothesis import given
from hypothesis import strategies as st

from engage.delivery.ratelimit import (
    Gcra,
    LocalRateLimiter,
    build_rate_limiter,
    rates_from_settings,
)
from engage.settings import Settings


class FakeTime:
    """A clock that only moves when someone sleeps: the limiter's own waits drive it."""

    def __init__(self) -> None:
        self.now = 1_000.0
        self.slept: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def grant_times(rate: float, burst: int, sends: int) -> list[float]:
    fake = FakeTime()
    limiter = LocalRateLimiter({"twilio": rate}, burst, clock=fake.clock, sleep=fake.sleep)
    times = []
    for _ in range(sends):
        limiter.acquire("twilio")
        times.append(fake.now - 1_000.0)
    return times


@given(st.floats(0.1, 1000.0), st.integers(1, 20), st.integers(1, 200))
def test_no_window_ever_holds_more_than_rate_times_length_plus_burst(rate, burst, sends):
    times = grant_times(rate, burst, sends)
    for i, start in enumerate(times):
        for j in range(i, len(times)):
            window = times[j] - start
            assert j - i + 1 <= rate * window + burst + 1e-6


@given(st.floats(0.1, 1000.0), st.integers(1, 200))
def test_without_burst_the_nth_send_waits_until_n_minus_one_intervals(rate, sends):
    times = grant_times(rate, 1, sends)
    assert times[-1] == pytest.approx((sends - 1) / rate, rel=1e-6, abs=1e-6)


def test_a_burst_goes_out_at_once_then_sends_are_spaced():
    times = grant_times(rate=10.0, burst=3, sends=5)
    assert times[:3] == [0.0, 0.0, 0.0]
    assert times[3:] == pytest.approx([0.1, 0.2])


def test_an_idle_provider_does_not_bank_more_than_its_burst():
    fake = FakeTime()
    limiter = LocalRateLimiter({"sendgrid": 10.0}, 2, clock=fake.clock, sleep=fake.sleep)
    fake.now += 3600  # an hour of silence
    for _ in range(3):
        limiter.acquire("sendgrid")
    assert sum(fake.slept) == pytest.approx(0.1)


def test_providers_have_separate_budgets():
    fake = FakeTime()
    limiter = LocalRateLimiter({"twilio": 1.0, "sendgrid": 1.0}, clock=fake.clock, sleep=fake.sleep)
    limiter.acquire("twilio")
    limiter.acquire("sendgrid")
    assert fake.slept == []


def test_an_unmetered_provider_never_waits():
    fake = FakeTime()
    limiter = LocalRateLimiter({"twilio": 0.001}, clock=fake.clock, sleep=fake.sleep)
    for _ in range(100):
        limiter.acquire("file")
    assert fake.slept == []


def test_threads_sharing_one_limiter_keep_to_the_rate():
    limiter = LocalRateLimiter({"twilio": 100.0})
    granted: list[float] = []
    lock = threading.Lock()

    def worker() -> None:
        for _ in range(10):
            limiter.acquire("twilio")
            with lock:
                granted.append(time.monotonic())

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    granted.sort()
    assert len(granted) == 40
    assert granted[-1] - granted[0] >= 39 / 100 - 0.02  # 40 sends need 39 intervals


def test_gcra_refuses_a_nonsensical_rate():
    with pytest.raises(ValueError, match="bad rate"):
        Gcra.of(0.0)


def test_rates_come_from_settings_per_provider():
    settings = Settings(sms_rate_per_second=3, email_rate_per_second=40)
    assert rates_from_settings(settings) == {"twilio": 3.0, "sendgrid": 40.0}


def test_embedded_mode_without_a_redis_broker_limits_in_process():
    assert isinstance(build_rate_limiter(Settings(broker_url="")), LocalRateLimiter)
