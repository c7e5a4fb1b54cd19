"""The retry policy: full-jitter exponential backoff, Retry-After as a floor, a hard stop."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engage.delivery.retry import RetryPolicy, outage
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


def test_the_default_policy_has_no_attempt_count():
    policy, rng = RetryPolicy(), random.Random(1)
    assert policy.next_delay(6, transient(), rng) is not None
    assert policy.next_delay(10_000, transient(), rng, remaining=1.0) is not None


remainings = st.floats(0.0, 7 * 86_400.0)
deadline_policies = st.builds(
    RetryPolicy,
    base=st.floats(0.0, 60.0),
    cap=st.floats(0.0, 3600.0),
    horizon=st.timedeltas(timedelta(seconds=1), timedelta(days=7)),
)
instants = st.datetimes(datetime(2026, 1, 1), datetime(2030, 1, 1), timezones=st.just(UTC))


@given(deadline_policies, st.integers(1, 10_000), remainings, retry_afters, rngs)
def test_no_retry_is_ever_scheduled_past_the_deadline(policy, attempt, remaining, retry_after, rng):
    delay = policy.next_delay(attempt, transient(retry_after), rng, remaining=remaining)
    assert delay is None or 0 <= delay <= remaining


@given(deadline_policies, st.integers(1, 10_000), st.floats(-86_400.0, 0.0), rngs)
def test_no_retry_once_the_deadline_has_come(policy, attempt, remaining, rng):
    assert policy.next_delay(attempt, transient(), rng, remaining=remaining) is None


@given(deadline_policies, st.integers(1, 10_000), st.floats(0.001, 86_400.0), rngs)
def test_a_transient_error_before_the_deadline_is_always_retried(policy, attempt, remaining, rng):
    assert policy.next_delay(attempt, transient(), rng, remaining=remaining) is not None


@given(deadline_policies, st.floats(0.001, 3600.0), rngs)
def test_a_retry_after_beyond_the_deadline_ends_the_retries(policy, remaining, rng):
    error = transient(retry_after=remaining * 2)
    assert policy.next_delay(1, error, rng, remaining=remaining) is None


@given(deadline_policies, instants, st.none() | instants)
def test_the_deadline_is_the_event_or_the_horizon_whichever_first(policy, since, event_at):
    deadline = policy.deadline(since, event_at)
    assert deadline <= since + policy.horizon
    if event_at is not None:
        assert deadline <= event_at
        assert deadline in (event_at, since + policy.horizon)


@settings(max_examples=30, deadline=None)
@given(st.floats(60.0, 20 * 3600.0), st.integers(0, 2**32))
def test_an_outage_shorter_than_the_horizon_delays_but_never_fails(outage_seconds, seed):
    """A provider down for minutes or hours (429, 503, 429, ...): the default policy keeps
    trying until the outage is over, and the first try after it comes within one cap (600 s)."""
    policy, elapsed, attempt, rng = RetryPolicy(), 0.0, 1, random.Random(seed)
    while elapsed < outage_seconds:
        remaining = policy.horizon.total_seconds() - elapsed
        delay = policy.next_delay(attempt, transient(), rng, remaining=remaining)
        assert delay is not None, f"gave up after {elapsed:.0f}s of a {outage_seconds:.0f}s outage"
        elapsed, attempt = elapsed + delay, attempt + 1
    assert elapsed - outage_seconds <= policy.cap


def test_a_reason_says_how_long_in_words():
    assert [outage(s) for s in (42, 750, 3 * 3600 + 5 * 60)] == ["42s", "12m 30s", "3h 05m"]


@pytest.mark.parametrize(
    "bad",
    [{"max_attempts": 0}, {"base": -1.0}, {"cap": -1.0}, {"horizon": timedelta(0)}],
)
def test_a_nonsensical_policy_is_refused(bad):
    with pytest.raises(ValueError, match="bad retry policy"):
        RetryPolicy(**bad)
