"""The broker's part of `engage status`, importable without Celery (its thread imports that).

Kept apart from engage.ops.status, which needs SQLAlchemy and the models: the CLI starts this
on a thread first, so the ping's wait overlaps the database side's imports and queries.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from engage.settings import Settings

if TYPE_CHECKING:
    from engage.ops.broker import QueueDepths

BrokerView = tuple["QueueDepths", list[str] | None]  # queue depths, workers that answered


def look_at_broker(settings: Settings, ping_timeout: float) -> BrokerView:
    """Queue depths, and the workers that answered a ping (None: the broker was unreachable)."""
    from engage.ops.broker import ping_workers, queue_depths

    queues = queue_depths(settings)
    # A ping through a broker that is down would wait out every retry: skip it.
    return queues, ping_workers(settings, ping_timeout) if queues.reachable else None
