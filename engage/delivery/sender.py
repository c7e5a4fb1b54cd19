"""Send queued messages: prepare (decide, render, mark `sending`), call the provider once, record.

The outbox rows move to `sending` and commit BEFORE the provider calls, and the provider ids are
stored right after them, so a crash leaves evidence (see claim.recover_stuck). A batch (a packed
task during a backlog) costs a handful of statements in all, not a handful per message. A
retry is not a loop here: the message goes back to `scheduled` with a later due time and the
dispatcher picks it up again, so retries survive restarts and obey the same claiming rules as
first sends. The three stages live in prepare.py, call.py and record.py; this module wires them.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from engage.channels.base import Channel
from engage.delivery.call import Caller
from engage.delivery.compose import Composer
from engage.delivery.failures import DEFAULT_ALERT_AFTER, FailureRules
from engage.delivery.lease import DEFAULT_LEASE, LeaseKeeper
from engage.delivery.prepare import Preparer
from engage.delivery.ratelimit import RateLimiter
from engage.delivery.record import Recorder
from engage.delivery.retry import RetryPolicy, SettleWaits
from engage.schedule.models import Schedule


@dataclass
class Sender:
    """Everything one send needs, built once per worker process."""

    sessions: sessionmaker[Session]
    schedule: Schedule
    env: Any  # the sandboxed Jinja2 environment
    channels: dict[str, Channel]
    limiter: RateLimiter
    policy: RetryPolicy
    public_url: str
    signing_secret: str
    clock: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))
    rng: random.Random = field(default_factory=random.Random)
    calls: int = 16  # provider calls in flight at once for batches (threads start on demand)
    lease: timedelta = DEFAULT_LEASE
    alert_after: timedelta = DEFAULT_ALERT_AFTER  # a critical message failing this long: staff
    # How long an ambiguous outcome waits before a worker asks the provider.
    settle: SettleWaits = field(default_factory=SettleWaits)
    pool: ThreadPoolExecutor = field(init=False, repr=False)
    leases: LeaseKeeper = field(init=False, repr=False)
    preparer: Preparer = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self.pool = ThreadPoolExecutor(self.calls, thread_name_prefix="engage-send")
        self.leases = LeaseKeeper(self.sessions, self.clock, self.lease)
        composer = Composer(self.schedule, self.env, self.public_url, self.signing_secret)
        self.preparer = Preparer(self.sessions, composer, self.channels, self.leases)

    def send(self, message_id: int) -> str:
        """Send message `message_id` if it is still queued; return what happened, for logs."""
        return self.send_many([message_id])[0]

    def send_many(self, message_ids: Sequence[int]) -> list[str]:
        """Send each message still queued; return what happened to each, in the given order.

        The database work is set-based: one transaction reads, checks, renders and marks the
        whole batch `sending`; the provider calls run concurrently; the outcomes are recorded
        together as soon as they are in (at least every call.RECORD_EVERY seconds, so one
        hanging call does not hold the others' provider ids back and widen the duplicate window).
        """
        if not message_ids:
            return []
        caller = Caller(self.channels, self.limiter, self.clock, self.sessions)
        recorder = Recorder(
            self.sessions,
            self.clock,
            FailureRules(self.policy, self.alert_after, self.settle),
            self.rng,
        )
        self.leases.hold()
        try:
            self.leases.take(message_ids)  # ours from now on, should this process die
            outcomes, ready = self.preparer.prepare(list(message_ids), self.clock())
            for done in caller.calls(self.pool, ready):
                outcomes.update(recorder.record(done))
        finally:
            self.leases.release()
        return [outcomes.get(i, "unknown") for i in message_ids]
