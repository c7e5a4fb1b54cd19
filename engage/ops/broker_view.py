"""The broker's part of `engage status`, importable without Celery (its thread imports that).

Kept apart from engage.ops.status, which needs SQLAlchemy and the models: the CLI starts this
on a thread first, so the ping's wait overlaps the database side's imports and queries.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING

from engage.settings import Settings

if TYPE_CHECKING:
    from engage.ops.broker import QueueDepths

BrokerView = tuple["QueueDepths", list[str] | None]  # queue depths, workers that answered
# No worker has beaten within the beat TTL: a ping is then only for a worker that cannot beat,
# and a live local one answers in milliseconds, so it is not waited for the whole timeout.
UNBEATEN_PING_TIMEOUT = 0.2


def look_at_broker(settings: Settings, ping_timeout: float) -> BrokerView:
    """Queue depths, and the workers that answered a ping (None: the broker was unreachable).

    A ping waits out its timeout unless told how many answers to expect: the workers' beats
    (every worker beats at start and every 10 s) say how many may answer, so the ping ends
    once they all have, and waits only briefly when none beats. The beats only bound the wait:
    the names shown are still those that answered.
    """
    from engage.ops.broker import ping_workers, queue_depths

    queues = queue_depths(settings)
    if not queues.reachable:  # a ping through a broker that is down would wait out every retry
        return queues, None
    expected = _workers_beating(settings)
    if expected == 0:
        ping_timeout = min(ping_timeout, UNBEATEN_PING_TIMEOUT)
    return queues, ping_workers(settings, ping_timeout, limit=expected or None)


def _workers_beating(settings: Settings) -> int | None:
    """Workers with a beat younger than the beat TTL (the dead of the last minutes included,
    so the limit is never below the live ones); None when the beat store cannot be read."""
    from engage.ops.heartbeat import beats

    try:
        return len(beats(settings, "worker", datetime.now(UTC)))
    except Exception:  # the beat store is down: wait the ping out
        return None
