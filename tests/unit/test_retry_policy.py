"""The retry policy: full-jitter exponential backoff, Retry-After as a floor, a hard stop."""

from __future__ import annotations

import random

import pytest
from hypothesis import given
from hypothesis import strategies as st

from engage.delivery.retry import RetryPolicy
from engage.errors import DeliveryError

policies = st.builds(
    RetryPolicy,
    max_attempts=st.integers(1, 50),
    base=st.floats(0.0, 60.0),
    cap=st.floats(0.0, 3600.0),
)
retry_afters = st.none() | st.floats(0.0, 86_400.0)
rngs = st.randoms(use_true_random=False)


def transient(retry_after: float | None = None) -> DeliveryError:
    return DeliveryError(
        "twilio 20429: too many requests", permanent=False, retry_after=retry_after
    )


@given(policies, st.integers(1, 60), retry_afters, rngs)
def test_a_delay_is_never_negative(policy, attempt, retry_after, rng):
    delay = policy.next_delay(attempt, transient(retry_after), rng)
    assert delay is None or delay >= 0


@given(policies, st.integers(1, 60), rngs)
def test_a_delay_never_exceeds_the_cap_without_a_retry_after(policy, attempt, rng):
    delay = policy.next_delay(attempt, transient(), rng)
    assert delay is None or delay <= policy.cap


@given(policies, st.integers(1, 60), st.floats(0.0, 86_400.0), rngs)
def test_retry_after_is_a_floor_even_above_the_cap(policy, attempt, retry_after, rng):
    delay = policy.next_delay(attempt, transient(retry_after), rng)
    assert delay is None or delay >= retry_after


@given(policies, st.integers(1, 60), retry_afters, rngs)
def test_a_permanent_error_is_never_retried(policy, attempt, retry_after, rng):
    error = DeliveryError("twilio 21211", permanent=True, retry_after=retry_after, code="21211")
    assert policy.next_delay(attempt, error, rng) is None


@given(policies, st.integers(0, 100), rngs)
def test_no_retry_once_max_attempts_are_spent(policy, extra, rng):
    assert policy.next_delay(policy.max_attempts + extra, transient(), rng) is None


@given(policies, rngs)
def test_every_attempt_before_the_last_gets_a_delay(policy, rng):
    for attempt in range(1, policy.max_attempts):
        assert policy.next_delay(attempt, transient(), rng) is not None


def test_the_backoff_ceiling_doubles_per_attempt_with_full_jitter():
    policy = RetryPolicy(max_attempts=10, base=2.0, cap=600.0)
    rng = random.Random(7)
    for attempt, ceiling in [(1, 2.0), (2, 4.0), (3, 8.0), (6, 64.0), (9, 512.0)]:
        delays = [policy.next_delay(attempt, transient(), rng) for _ in range(500)]
        assert all(d is not None and 0 <= d <= ceiling for d in delays)
        assert max(d for d in delays if d is not None) > 0.9 * ceiling  # spread over the range
        assert min(d for d in delays if d is not None) < 0.1 * ceiling


def test_the_ceiling_stops_growing_at_the_cap():
    policy = RetryPolicy(max_attempts=100, base=2.0, cap=30.0)
    delays = [policy.next_delay(90, transient(), random.Random(i)) for i in range(200)]
    assert max(d for d in delays if d is not None) <= 30.0


def test_the_default_policy_gives_up_after_six_attempts():
    policy, rng = RetryPolicy(), random.Random(1)
    assert policy.next_delay(5, transient(), rng) is not None
    assert policy.next_delay(6, transient(), rng) is None


@pytest.mark.parametrize("bad", [{"max_attempts": 0}, {"base": -1.0}, {"cap": -1.0}])
def test_a_nonsensical_policy_is_refused(bad):
    with pytest.raises(ValueError, match="bad retry policy"):
        RetryPolicy(**bad)
