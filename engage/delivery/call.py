"""The call: one provider attempt per ready message, the batch's calls running concurrently.

A message whose earlier outcome is unknown (`uncertain_since`) is first looked up in the
provider's records: found, it is settled as sent without a second call. Each call then takes its
rate-limit grant, asks the gate again with the time now (the wait for a grant may have crossed
into quiet hours, past the event's start or into a new day), and only then calls the channel,
once. A call never raises: one odd failure cannot orphan a batch.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from concurrent.futures import Executor, wait
from dataclasses import dataclass, replace
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session, sessionmaker

from engage.channels.base import Channel, Lookup, Receipt
from engage.delivery.gate import Action, SendFacts, Verdict, decide
from engage.delivery.prepare import Ready
from engage.delivery.ratelimit import RateLimiter
from engage.errors import DeliveryError
from engage.logs import get_logger
from engage.ops import metrics
from engage.planning.localtime import next_allowed
from engage.store.message_states import claim_provider_record

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
    sessions: sessionmaker[Session]

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
            if item.uncertain_since is not None:
                settled = self._settle(item, item.uncertain_since)
                if settled is not None:
                    return Called(item, settled, time.monotonic() - started)
            self.limiter.acquire(item.provider)
            started = time.monotonic()
            # Consent and the rest are as read before; the time checks are decided again, now.
            verdict = decide(replace(item.facts, now=self.clock()))
            if verdict.action is not Action.SEND:
                return Called(item, verdict, 0.0)
            outcome: Outcome = self.channels[item.outgoing.channel].send(item.outgoing)
            if in_quiet_hours(item.facts, self.clock()):
                metrics.count_quiet_hours_send(item.outgoing.channel)
        except DeliveryError as error:
            outcome = error
        except Exception as exc:  # a bug or an outage of ours (e.g. Redis for the rate limit)
            log.error("send.unexpected", **item.ids, error=type(exc).__name__)
            outcome = DeliveryError(
                f"{item.provider}: unexpected {type(exc).__name__}", permanent=False, code="error"
            )
        return Called(item, outcome, time.monotonic() - started)

    def _settle(self, item: Ready, since: datetime) -> Receipt | None:
        """The provider's record of an earlier attempt, or None: no trace, send it (again).

        Raises DeliveryError (code "lookup") when the provider cannot be asked: still unknown.
        A record another message already holds (the same body to the same number) is not ours.
        """
        channel = self.channels[item.outgoing.channel]
        if not isinstance(channel, Lookup):
            # No list to ask (SendGrid without the activity API): its `processed` event had the
            # wait to settle it and did not; a resend the provider may already have had.
            metrics.count_duplicate(item.provider)
            log.warning("send.resend_unverified", **item.ids, provider=item.provider)
            return None
        found = channel.find(item.outgoing, since, item.uncertain_until or self.clock())
        with self.sessions.begin() as session:
            sid = claim_provider_record(
                session,
                item.outgoing.message_id,
                item.patient_id,
                item.provider,
                [r.provider_id for r in found],
            )
        log.info("send.settled", **item.ids, provider=item.provider, found=sid is not None)
        return None if sid is None else Receipt(item.provider, sid, "sent")


def in_quiet_hours(facts: SendFacts, at: datetime) -> bool:
    """A non-critical message reaching the provider at `at` inside the recipient's quiet hours:
    the gate's rule broken (a tripwire for the quiet-hours alert; the gate should prevent it)."""
    if facts.critical:
        return False
    return next_allowed(at, ZoneInfo(facts.timezone), facts.quiet) > at
