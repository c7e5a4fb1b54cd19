"""Gauges read at scrape time: the outbox from the database, the queues from the broker.

Collected on demand rather than kept up to date by the code, so any process can serve them and
they never drift from the truth. Register them in ONE scrape target (the API's /metrics): each
scrape costs a grouped count over the message table and one broker round trip.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import UTC, datetime, timedelta

from prometheus_client.core import GaugeMetricFamily
from prometheus_client.metrics_core import Metric
from prometheus_client.registry import Collector
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from engage.ops.broker import queue_depths
from engage.ops.heartbeat import beats
from engage.ops.outbox import backlog, counts_by_state, critical_not_reached
from engage.schedule.models import CHANNELS
from engage.settings import Settings
from engage.store.messages import MessageState

# A safety-critical message this late has missed its purpose: operators are paged (and staff
# see it flagged). Shorter than any pre-infusion reminder's lead time.
CRITICAL_GRACE = timedelta(minutes=15)


def _now() -> datetime:
    return datetime.now(UTC)


class OutboxCollector(Collector):
    """engage_messages{state,channel}, engage_backlog_messages{channel},
    engage_backlog_oldest_age_seconds{channel}, engage_database_up."""

    def __init__(
        self, sessions: sessionmaker[Session], clock: Callable[[], datetime] = _now
    ) -> None:
        self.sessions = sessions
        self.clock = clock

    def describe(self) -> Iterable[Metric]:
        return []  # never query the database just because the collector was registered

    def collect(self) -> Iterable[Metric]:
        up = GaugeMetricFamily("engage_database_up", "1 if the outbox could be read.")
        now = self.clock()
        try:
            with self.sessions() as session:
                counts = counts_by_state(session)
                lag = backlog(session, now)
                critical = critical_not_reached(session, now - CRITICAL_GRACE)
        except SQLAlchemyError:
            up.add_metric([], 0)
            return [up]
        up.add_metric([], 1)
        channels = sorted(set(CHANNELS) | {channel for _, channel in counts})
        messages = GaugeMetricFamily(
            "engage_messages",
            "Messages in the outbox by state and channel.",
            labels=["state", "channel"],
        )
        for state in MessageState:  # zeros too: a series must not vanish when it empties
            for channel in channels:
                messages.add_metric([state.value, channel], counts.get((state.value, channel), 0))
        waiting = GaugeMetricFamily(
            "engage_backlog_messages", "Due but not yet sent, per channel.", labels=["channel"]
        )
        age = GaugeMetricFamily(
            "engage_backlog_oldest_age_seconds",
            "How long ago the oldest due-but-unsent message was due (0: none).",
            labels=["channel"],
        )
        by_channel = {item.channel: item for item in lag}
        for channel in channels:
            item = by_channel.get(channel)
            waiting.add_metric([channel], item.count if item else 0)
            oldest = item.oldest_due if item else None
            age.add_metric([channel], max(0.0, (now - oldest).total_seconds()) if oldest else 0.0)
        unreached = GaugeMetricFamily(
            "engage_critical_undelivered_messages",
            "Safety-critical messages due over 15 minutes ago that have not reached the patient.",
        )
        unreached.add_metric([], critical)
        return [up, messages, waiting, age, unreached]


class BrokerCollector(Collector):
    """engage_queue_depth{queue} (tasks waiting in the broker) and engage_broker_up."""

    def __init__(self, settings: Settings, timeout: float = 2.0) -> None:
        self.settings = settings
        self.timeout = timeout

    def describe(self) -> Iterable[Metric]:
        return []

    def collect(self) -> Iterable[Metric]:
        result = queue_depths(self.settings, self.timeout)
        up = GaugeMetricFamily("engage_broker_up", "1 if the broker answered.")
        up.add_metric([], 1 if result.reachable else 0)
        depth = GaugeMetricFamily(
            "engage_queue_depth", "Tasks waiting in each Celery queue.", labels=["queue"]
        )
        for queue, count in sorted(result.depths.items()):
            depth.add_metric([queue], count)
        return [up, depth]


class HeartbeatCollector(Collector):
    """engage_dispatchers_alive and engage_dispatcher_heartbeat_age_seconds (newest beat)."""

    def __init__(self, settings: Settings, clock: Callable[[], datetime] = _now) -> None:
        self.settings = settings
        self.clock = clock

    def describe(self) -> Iterable[Metric]:
        return []

    def collect(self) -> Iterable[Metric]:
        now = self.clock()
        try:
            alive = beats(self.settings, "dispatcher", now)
        except Exception:  # the beat store is down: say nothing rather than "no dispatcher"
            return []
        count = GaugeMetricFamily("engage_dispatchers_alive", "Dispatchers with a live beat.")
        count.add_metric([], len(alive))
        age = GaugeMetricFamily(
            "engage_dispatcher_heartbeat_age_seconds",
            "Seconds since the newest dispatcher beat (+Inf: none within the beat TTL).",
        )
        age.add_metric([], min((b.age(now) for b in alive), default=float("inf")))
        return [count, age]
