"""When to try a failed send again: one pure policy that the send task asks, nothing else retries.

Exponential backoff with full jitter (AWS Architecture Blog, "Exponential Backoff And Jitter"):
the delay is uniform in [0, min(cap, base * 2**(attempt-1))], so workers that failed together do
not come back together. A provider's Retry-After is a floor: asking earlier only earns another 429.

Retries run until a deadline, not for a count: until the message stops being useful. A reminder
meant for before its event is useless once the event starts; anything else is given `horizon`
(24 h by default) from its first failure, so a provider outage of hours delays messages instead of
failing them. A retry is never scheduled past the deadline: the last one lands on it.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime, timedelta

from engage.errors import DeliveryError

_MAX_DOUBLINGS = 64  # keeps 2**n a finite float whatever max_attempts is


@dataclass(frozen=True)
class RetryPolicy:
    max_attempts: int | None = None  # an optional ceiling on attempts; None: the deadline rules
    base: float = 2.0  # seconds: the ceiling of the first retry's delay
    cap: float = 600.0  # seconds: no backoff ceiling grows past this
    horizon: timedelta = timedelta(hours=24)  # from the first failure, for messages with no event

    def __post_init__(self) -> None:
        bad_count = self.max_attempts is not None and self.max_attempts < 1
        if bad_count or self.base < 0 or self.cap < 0 or self.horizon <= timedelta(0):
            raise ValueError(f"bad retry policy {self!r}")

    def deadline(self, failing_since: datetime, event_at: datetime | None) -> datetime:
        """When retrying stops being useful: the event's start, or the horizon, whichever first."""
        end = failing_since + self.horizon
        return min(end, event_at) if event_at is not None else end

    def next_delay(
        self,
        attempt: int,
        error: DeliveryError,
        rng: random.Random,
        *,
        remaining: float | None = None,
    ) -> float | None:
        """Seconds to wait after failed attempt number `attempt` (1-based); None: give up.

        `remaining` is the seconds left until the deadline (None: no deadline).
        """
        if error.permanent or (self.max_attempts is not None and attempt >= self.max_attempts):
            return None
        if remaining is not None and remaining <= 0:
            return None
        ceiling = min(self.cap, self.base * 2.0 ** min(max(attempt - 1, 0), _MAX_DOUBLINGS))
        delay = rng.uniform(0.0, ceiling)
        if error.retry_after is not None:
            if remaining is not None and error.retry_after > remaining:
                return None  # the provider will not take it before the message is useless
            delay = max(delay, error.retry_after)
        return delay if remaining is None else min(delay, remaining)


def outage(seconds: float) -> str:
    """A duration for a reason a person reads: `3h 05m`, `12m 30s`, `42s`."""
    whole = int(seconds)
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours}h {minutes:02d}m"
    if minutes:
        return f"{minutes}m {secs:02d}s"
    return f"{secs}s"


@dataclass(frozen=True)
class SettleWaits:
    """How long an ambiguous outcome waits before a worker asks the provider: time for a status
    callback (Twilio: seconds) or SendGrid's `processed` event (seconds to a minute) to settle it
    first. ENGAGE_SMS_SETTLE_SECONDS and ENGAGE_EMAIL_SETTLE_SECONDS."""

    sms: timedelta = timedelta(seconds=10)
    email: timedelta = timedelta(seconds=60)

    def of(self, channel: str) -> timedelta:
        """The wait for a message on `channel` (email waits for its event; anything else: sms)."""
        return self.email if channel == "email" else self.sms
