"""When to try a failed send again: one pure policy that the send task asks, nothing else retries.

Exponential backoff with full jitter (AWS Architecture Blog, "Exponential Backoff And Jitter"):
the delay is uniform in [0, min(cap, base * 2**(attempt-1))], so workers that failed together do
not come back together. A provider's Retry-After is a floor: asking earlier only earns another 429.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from engage.errors import DeliveryError

_MAX_DOUBLINGS = 64  # keeps 2**n a finite float whatever max_attempts is


@dataclass(frozen=True)
class RetryPolicy:
    max_attempts: int = 6  # attempts in all, the first one included
    base: float = 2.0  # seconds: the ceiling of the first retry's delay
    cap: float = 600.0  # seconds: no backoff ceiling grows past this

    def __post_init__(self) -> None:
        if self.max_attempts < 1 or self.base < 0 or self.cap < 0:
            raise ValueError(f"bad retry policy {self!r}")

    def next_delay(self, attempt: int, error: DeliveryError, rng: random.Random) -> float | None:
        """Seconds to wait after failed attempt number `attempt` (1-based); None: give up."""
        if error.permanent or attempt >= self.max_attempts:
            return None
        ceiling = min(self.cap, self.base * 2.0 ** min(max(attempt - 1, 0), _MAX_DOUBLINGS))
        delay = rng.uniform(0.0, ceiling)
        if error.retry_after is not None:
            delay = max(delay, error.retry_after)
        return delay
