"""The counters the sender and webhooks increment, as Prometheus scrapes them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from prometheus_client import REGISTRY, CollectorRegistry

from engage.ops import metrics
from engage.ops.heartbeat import heartbeat
from engage.ops.metrics_scrape import HeartbeatCollector
from engage.settings import Settings


def sample(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def scrape() -> str:
    body, content_type = metrics.exposition(metrics.scrape_registry())
    assert content_type.startswith("text/plain")
    return body.decode()


def test_an_accepted_send_counts_its_latency_and_its_lateness() -> None:
    before = sample("engage_send_lateness_seconds_bucket", provider="unit-a", le="60.0")
    metrics.observe_send("unit-a", 0.2, 45.0)
    assert sample("engage_sends_total", provider="unit-a") == 1
    assert sample("engage_send_lateness_seconds_bucket", provider="unit-a", le="60.0") == before + 1
    assert sample("engage_send_lateness_seconds_bucket", provider="unit-a", le="30.0") == 0
    assert sample("engage_provider_request_seconds_count", provider="unit-a", outcome="ok") == 1


def test_errors_are_counted_by_provider_and_vendor_code() -> None:
    metrics.count_error("unit-b", "21211", seconds=0.1)
    metrics.count_error("unit-b", "21211")
    metrics.count_error("unit-b", "")
    assert sample("engage_provider_errors_total", provider="unit-b", code="21211") == 2
    assert sample("engage_provider_errors_total", provider="unit-b", code="none") == 1
    assert sample("engage_provider_request_seconds_count", provider="unit-b", outcome="error") == 1


def test_retries_suppressions_and_webhook_events_are_counted() -> None:
    metrics.count_retry("unit-c")
    metrics.count_suppressed("unit sms consent closed")
    metrics.count_webhook("unit-c", "delivered")
    assert sample("engage_retries_total", provider="unit-c") == 1
    assert sample("engage_suppressions_total", reason="unit sms consent closed") == 1
    assert sample("engage_webhook_events_total", provider="unit-c", kind="delivered") == 1


def test_an_absurdly_long_label_is_cut_short() -> None:
    metrics.count_suppressed("x" * 500)
    assert sample("engage_suppressions_total", reason="x" * 64) == 1


def test_the_scrape_text_carries_every_series_family() -> None:
    metrics.observe_send("unit-d", 0.1, 1.0)
    metrics.count_error("unit-d", "timeout", seconds=2.0)
    metrics.count_retry("unit-d")
    metrics.count_suppressed("unit-d")
    metrics.count_webhook("unit-d", "bounce")
    text = scrape()
    for family in (
        'engage_sends_total{provider="unit-d"}',
        'engage_send_lateness_seconds_bucket{le="5.0",provider="unit-d"}',
        'engage_provider_request_seconds_bucket{le="2.5",outcome="error",provider="unit-d"}',
        'engage_provider_errors_total{code="timeout",provider="unit-d"}',
        'engage_retries_total{provider="unit-d"}',
        'engage_suppressions_total{reason="unit-d"}',
        'engage_webhook_events_total{kind="bounce",provider="unit-d"}',
    ):
        assert family in text


def test_dispatcher_heartbeat_gauges_read_the_beats(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)  # embedded mode: beats are files under var/
    settings = Settings()
    now = datetime(2026, 1, 5, 12, 0, tzinfo=UTC)
    registry = CollectorRegistry(auto_describe=False)
    registry.register(HeartbeatCollector(settings, clock=lambda: now))
    assert registry.get_sample_value("engage_dispatchers_alive", {}) == 0
    assert registry.get_sample_value("engage_dispatcher_heartbeat_age_seconds", {}) == float("inf")
    heartbeat(settings, "dispatcher", now=now - timedelta(seconds=7))
    assert registry.get_sample_value("engage_dispatchers_alive", {}) == 1
    assert registry.get_sample_value("engage_dispatcher_heartbeat_age_seconds", {}) == 7
