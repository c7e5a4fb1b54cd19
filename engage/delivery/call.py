"""The call: one provider attempt per ready message, the batch's calls running concurrently.

Each call first takes its rate-limit grant, then asks the gate again with the time now (the wait
for a grant may have crossed into quiet hours, past the event's start or into a new day), and
only then calls the channel, once. A call never raises: one odd failure cannot orphan a batch.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from concurrent.futures import Executor, wait
from dataclasses import dataclass, replace
from datetime import datetime

from engage.channels.base import Channel, Receipt
from engage.delivery.gate import Action, Verdict, decide
from engage.delivery.prepare import Ready
from engage.delivery.ratelimit import RateLimiter
from engage.errors import DeliveryError
from engage.logs import get_logger

log = get_logger("engage.sender")
# Outcomes are handed on at least this often while a batch's other calls are still out.
RECORD_EVERY = 0.25

Outcome = Receipt | DeliveryError | Verdict  # a Verdict: withheld at the moment of the call


@dataclass(frozen=True)
class Called:
    """One finished call: what was sent, what came of it, how long the provider took."""

    item: Ready
    outcome: Outcome
    seconds: float


@dataclass
class Caller:
    channels: dict[str, Channel]
    limiter: RateLimiter
    clock: Callable[[], datetime]

    def calls(self, pool: Executor, ready: list[Ready]) -> Iterator[list[Called]]:
        """Call the provider for each message; yield the outcomes in groups as they finish."""
        if len(ready) <= 1:  # a trickle: no thread hand-off
            if ready:
                yield [self.call_one(ready[0])]
            return
        pending = {pool.submit(self.call_one, item) for item in ready}
        while pending:
            done, pending = wait(pending, timeout=RECORD_EVERY)
            if done:
                yield [future.result() for future in done]

    def call_one(self, item: Ready) -> Called:
        """One provider attempt; never raises."""
        started = time.monotonic()
        try:
            self.limiter.acquire(item.provider)
            started = time.monotonic()
            # Consent and the rest are as read before; the time checks are decided again, now.
            verdict = decide(replace(item.facts, now=self.clock()))
            if verdict.action is not Action.SEND:
                return Called(item, verdict, 0.0)
            outcome: Outcome = self.channels[item.outgoing.channel].send(item.outgoing)
        except DeliveryError as error:
            outcome = error
        except Exception as exc:  # a bug or an outage of ours (e.g. Redis for the rate limit)
            log.error("send.unexpected", **item.ids, error=type(exc).__name__)
            outcome = DeliveryError(
                f"{item.provider}: unexpected {type(exc).__name__}", permanent=False, code="error"
            )
        return Called(item, outcome, time.monotonic() - started)
