"""Prometheus metrics that the code increments as things happen: sends, errors, retries, events.

The sender (in worker processes) and the webhooks (in the API) call the small functions below;
gauges that describe the outbox are read from the database at scrape time instead
(engage.ops.metrics_scrape), so they are right whichever process answers the scrape.

Worker processes: set PROMETHEUS_MULTIPROC_DIR *before* engage is imported and every process
(Celery prefork children included) writes its samples to files there; the worker's parent serves
them all from `start_worker_metrics_server(port)`. Without it, each process serves its own.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
    start_http_server,
)
from prometheus_client.metrics_core import Metric
from prometheus_client.registry import Collector

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
_MAX_LABEL = 64  # labels come from provider codes and reasons: cap them so one odd value is cheap

# Lateness spans "on time" to "a day late" (a dead dispatcher over a weekend).
LATENESS_BUCKETS = (1, 5, 15, 30, 60, 120, 300, 600, 1800, 3600, 3 * 3600, 12 * 3600, 86400)
LATENCY_BUCKETS = (0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)

SENDS = Counter("engage_sends", "Messages a provider accepted.", ["provider"])
SEND_LATENESS = Histogram(
    "engage_send_lateness_seconds",
    "Sent minus due, per accepted message.",
    ["provider"],
    buckets=LATENESS_BUCKETS,
)
PROVIDER_LATENCY = Histogram(
    "engage_provider_request_seconds",
    "Duration of one provider API call.",
    ["provider", "outcome"],
    buckets=LATENCY_BUCKETS,
)
PROVIDER_ERRORS = Counter(
    "engage_provider_errors", "Provider calls that failed, by vendor code.", ["provider", "code"]
)
CRITICAL_LATE = Counter(
    "engage_critical_undelivered",
    "Safety-critical messages still undelivered after the alert delay (staff flagged).",
    ["channel"],
)
RETRIES = Counter("engage_retries", "Sends put back in the outbox for a later try.", ["provider"])
SUPPRESSIONS = Counter(
    "engage_suppressions", "Messages deliberately not sent, by reason.", ["reason"]
)
WEBHOOK_EVENTS = Counter(
    "engage_webhook_events", "Provider callbacks received, by kind.", ["provider", "kind"]
)

# The failure modes operators are paged for (deploy/alerts.yml); the sender calls these.
UNCERTAIN = Counter(
    "engage_uncertain_outcomes",
    "Sends whose outcome was ambiguous (timeout or reset after the request went out).",
    ["provider"],
)
DUPLICATES = Counter(
    "engage_duplicate_sends",
    "Messages the provider received more than once (where it could not tell us it had one).",
    ["provider"],
)
QUIET_HOURS_SENDS = Counter(
    "engage_quiet_hours_sends",
    "Non-critical messages that reached the provider inside the recipient's quiet hours.",
    ["channel"],
)


def _label(value: str) -> str:
    return (value or "none")[:_MAX_LABEL]


def observe_send(provider: str, seconds: float, lateness_seconds: float) -> None:
    """A provider accepted a message after `seconds`, `lateness_seconds` after it was due."""
    provider = _label(provider)
    SENDS.labels(provider).inc()
    PROVIDER_LATENCY.labels(provider, "ok").observe(seconds)
    SEND_LATENESS.labels(provider).observe(max(0.0, lateness_seconds))


def count_error(provider: str, code: str, seconds: float | None = None) -> None:
    """A provider call failed with vendor `code` ("timeout", "21211", ...) after `seconds`."""
    provider = _label(provider)
    PROVIDER_ERRORS.labels(provider, _label(code)).inc()
    if seconds is not None:
        PROVIDER_LATENCY.labels(provider, "error").observe(seconds)


def _counts(counter: Counter) -> Callable[[str], None]:
    """A function that adds one to `counter` under its one label (cut to the label length)."""

    def count(value: str) -> None:
        counter.labels(_label(value)).inc()

    return count


count_critical_late = _counts(CRITICAL_LATE)  # by channel
count_retry = _counts(RETRIES)  # by provider
count_suppressed = _counts(SUPPRESSIONS)  # by reason
# A send's outcome is unknown: settled later from the provider's records.
count_uncertain = _counts(UNCERTAIN)
# A message was sent again although the provider may already have had it.
count_duplicate = _counts(DUPLICATES)
# A non-critical message went out inside quiet hours: a rule broken, never expected.
count_quiet_hours_send = _counts(QUIET_HOURS_SENDS)


def count_webhook(provider: str, kind: str) -> None:
    """One callback event: `kind` is the vendor's status or event name ("delivered", "bounce")."""
    WEBHOOK_EVENTS.labels(_label(provider), _label(kind)).inc()


# -- exposition ------------------------------------------------------------------------------


class _Forward(Collector):
    """Serves the default registry's metrics from another registry (with extra collectors)."""

    def __init__(self, source: CollectorRegistry) -> None:
        self.source = source

    def collect(self) -> Iterable[Metric]:
        return self.source.collect()


def multiproc_dir() -> Path | None:
    value = os.environ.get(MULTIPROC_ENV)
    return Path(value) if value else None


def scrape_registry(*collectors: Collector) -> CollectorRegistry:
    """A registry for one scrape endpoint: this process's metrics (or, in multiprocess mode,
    every process's that shares the directory) plus `collectors`."""
    registry = CollectorRegistry(auto_describe=False)
    if multiproc_dir() is not None:
        from prometheus_client import multiprocess

        multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
    else:
        registry.register(_Forward(REGISTRY))
    for collector in collectors:
        registry.register(collector)
    return registry


def exposition(registry: CollectorRegistry) -> tuple[bytes, str]:
    """The text format body and its content type."""
    return generate_latest(registry), CONTENT_TYPE_LATEST


def reset_multiproc_dir() -> None:
    """Empty PROMETHEUS_MULTIPROC_DIR before a worker starts: files of a previous run would
    otherwise be added to this run's counters. Call it once, in the parent, before forking."""
    folder = multiproc_dir()
    if folder is None:
        return
    folder.mkdir(parents=True, exist_ok=True)
    for stale in folder.glob("*.db"):
        stale.unlink()


def mark_process_dead(pid: int) -> None:
    """A worker child exited: drop its live-only samples (Celery's worker_process_shutdown)."""
    if multiproc_dir() is not None:
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(pid)  # type: ignore[no-untyped-call]


def start_worker_metrics_server(port: int, addr: str = "0.0.0.0") -> Any:
    """Serve /metrics for a worker (all its children in multiprocess mode) on `port`.

    Returns the server (its `server_address` tells the port when `port` is 0).
    """
    server, _thread = start_http_server(port, addr, registry=scrape_registry())
    return server
