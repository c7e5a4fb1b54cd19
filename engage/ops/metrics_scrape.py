"""Gauges read at scrape time: the outbox from the database, the queues from the broker.

Collected on demand rather than kept up to date by the code, so any process can serve them and
they never drift from the truth. Register them in ONE scrape target (the API's /metrics).

The backlog is read on every scrape (an index range over the few unsent rows). The all-time
counts by state and the critical-not-reached count read the whole message table (seconds at ten
million rows), so they are read on a thread instead, at most every `COUNTS_EVERY`, and a scrape
serves the newest answer with its age (`engage_outbox_counts_age_seconds`): a scrape never waits
on them, except the first, which has nothing to serve yet.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from prometheus_client.core import GaugeMetricFamily
from prometheus_client.metrics_core import Metric
from prometheus_client.registry import Collector
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from engage.logs import get_logger
from engage.ops.broker import queue_depths
from engage.ops.heartbeat import beats
from engage.ops.outbox import (
    backlog,
    counts_by_state,
    critical_not_reached,
    plan_as_small_reads,
)
from engage.schedule.models import CHANNELS
from engage.settings import Settings
from engage.store.messages import MessageState

# A safety-critical message this late has missed its purpose: operators are paged (and staff
# see it flagged). Shorter than any pre-infusion reminder's lead time.
CRITICAL_GRACE = timedelta(minutes=15)
# How old the table-wide counts may be before a scrape starts reading them again (on a thread).
# Far inside the critical grace above, and a few seconds of a core per refresh at 10M messages.
COUNTS_EVERY = 30.0
log = get_logger("engage.metrics")


def _now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class _Counts:
    """The table-wide answers, and when (monotonic) and how fast they were read."""

    by_state: dict[tuple[str, str], int]
    critical: int
    read_at: float
    seconds: float


class OutboxCollector(Collector):
    """engage_messages{state,channel}, engage_backlog_messages{channel},
    engage_backlog_oldest_age_seconds{channel}, engage_critical_undelivered_messages,
    engage_outbox_counts_age_seconds, engage_database_up."""

    def __init__(
        self,
        sessions: sessionmaker[Session],
        clock: Callable[[], datetime] = _now,
        counts_every: float = COUNTS_EVERY,
    ) -> None:
        self.sessions = sessions
        self.clock = clock
        self.counts_every = counts_every
        self._counts: _Counts | None = None
        self._lock = threading.Lock()
        self._refreshing: threading.Thread | None = None

    def describe(self) -> Iterable[Metric]:
        return []  # never query the database just because the collector was registered

    def _read_counts(self) -> _Counts:
        started = time.monotonic()
        with self.sessions() as session:
            by_state = counts_by_state(session)
            critical = critical_not_reached(session, self.clock() - CRITICAL_GRACE)
        done = time.monotonic()
        return _Counts(by_state, critical, done, done - started)

    def _refresh(self) -> None:
        try:
            counts = self._read_counts()
        except SQLAlchemyError as exc:  # the next scrape tries again; the age keeps growing
            log.warning("metrics.counts_unread", error=type(exc).__name__)
            return
        finally:
            with self._lock:
                self._refreshing = None
        with self._lock:
            self._counts = counts

    def counts(self) -> _Counts:
        """The newest counts; read now if there are none yet, else refreshed on a thread."""
        with self._lock:
            counts = self._counts
            stale = counts is None or time.monotonic() - counts.read_at >= self.counts_every
            if counts is not None and stale and self._refreshing is None:
                self._refreshing = threading.Thread(
                    target=self._refresh, name="engage-metrics-counts", daemon=True
                )
                self._refreshing.start()
        if counts is None:  # the first scrape: nothing to serve yet
            counts = self._read_counts()
            with self._lock:
                self._counts = counts
        return counts

    def collect(self) -> Iterable[Metric]:
        up = GaugeMetricFamily("engage_database_up", "1 if the outbox could be read.")
        now = self.clock()
        try:
            with self.sessions() as session:
                plan_as_small_reads(session)
                lag = backlog(session, now)
            counts = self.counts()
        except SQLAlchemyError:
            up.add_metric([], 0)
            return [up]
        up.add_metric([], 1)
        by_state = counts.by_state
        channels = sorted(set(CHANNELS) | {channel for _, channel in by_state})
        messages = GaugeMetricFamily(
            "engage_messages",
            "Messages in the outbox by state and channel (as of engage_outbox_counts_age_seconds).",
            labels=["state", "channel"],
        )
        for state in MessageState:  # zeros too: a series must not vanish when it empties
            for channel in channels:
                messages.add_metric([state.value, channel], by_state.get((state.value, channel), 0))
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
            "Safety-critical messages due over 15 minutes ago that have not reached the patient "
            "(as of engage_outbox_counts_age_seconds).",
        )
        unreached.add_metric([], counts.critical)
        counts_age = GaugeMetricFamily(
            "engage_outbox_counts_age_seconds",
            "How old engage_messages and engage_critical_undelivered_messages are: read on a "
            "thread at most every 30 s, as they scan the whole outbox.",
        )
        counts_age.add_metric([], max(0.0, time.monotonic() - counts.read_at))
        read = GaugeMetricFamily(
            "engage_outbox_counts_read_seconds", "How long the newest of those reads took."
        )
        read.add_metric([], counts.seconds)
        return [up, messages, waiting, age, unreached, counts_age, read]


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
