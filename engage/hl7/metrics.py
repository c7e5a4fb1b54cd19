"""Prometheus metrics of the feed, in the style of engage.ops.metrics.

Counters and the connection gauge are kept by the listener as things happen; the time of the
newest message and the dead-letter count are read from the journal at scrape time, so they are
right after a restart and whichever listener answers (the quiet-feed alert reads the former).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from prometheus_client import Counter, Gauge, Histogram, start_http_server
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.metrics_core import Metric
from prometheus_client.registry import Collector
from sqlalchemy import Engine, func, select
from sqlalchemy.exc import SQLAlchemyError

from engage.ops.metrics import scrape_registry
from engage.store.hl7 import Hl7Message, Hl7State

ACK_BUCKETS = (0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)

MESSAGES = Counter(
    "engage_hl7_messages", "HL7 messages answered, by type and ACK code.", ["type", "ack"]
)
DUPLICATES = Counter("engage_hl7_duplicates", "Resent messages (same MSH-10) answered again.")
CONNECTIONS = Gauge("engage_hl7_connections", "Open MLLP connections.")
ACK_SECONDS = Histogram(
    "engage_hl7_ack_seconds", "From a message's last byte to its ACK sent.", buckets=ACK_BUCKETS
)
UNANSWERED = Counter(
    "engage_hl7_unanswered", "Messages left unacknowledged because the database failed."
)


def observe(message_type: str, code: str, seconds: float, duplicate: bool) -> None:
    MESSAGES.labels(message_type[:16] or "unknown", code).inc()
    ACK_SECONDS.observe(seconds)
    if duplicate:
        DUPLICATES.inc()


class JournalCollector(Collector):
    """`engage_hl7_last_message_timestamp_seconds` and `engage_hl7_dead_letters`, from the DB."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def collect(self) -> Iterable[Metric]:
        try:
            with self.engine.connect() as connection:
                newest = connection.scalar(select(func.max(Hl7Message.received_at)))
                failed = connection.scalar(
                    select(func.count()).where(Hl7Message.state == Hl7State.FAILED)
                )
        except SQLAlchemyError:
            return  # an unreadable database shows as missing series, which alerts
        last = GaugeMetricFamily(
            "engage_hl7_last_message_timestamp_seconds",
            "When the newest HL7 message was received (Unix time; 0 = never).",
        )
        last.add_metric([], newest.timestamp() if newest is not None else 0.0)
        yield last
        dead = GaugeMetricFamily("engage_hl7_dead_letters", "HL7 messages answered AE, unfixed.")
        dead.add_metric([], float(failed or 0))
        yield dead


def start_metrics_server(engine: Engine, port: int, addr: str = "0.0.0.0") -> Any:
    server, _thread = start_http_server(
        port, addr, registry=scrape_registry(JournalCollector(engine))
    )
    return server
