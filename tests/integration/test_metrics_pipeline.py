"""Metrics as the pipeline produces them: counters from real sends, gauges from the outbox."""

from __future__ import annotations

import threading
import time

import pytest
from prometheus_client import REGISTRY, CollectorRegistry
from sqlalchemy.orm import Session

from engage.ops.metrics_scrape import OutboxCollector
from engage.store import Consent, Message, MessageState
from engage.store.db import make_engine, session_factory
from tests.delivery_kit import Kit
from tests.fakes.provider_server import TWILIO, ProviderServer, twilio_error

S = MessageState


def value(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def test_a_late_send_counts_one_send_and_its_lateness(kit: Kit) -> None:
    sends = value("engage_sends_total", provider="twilio")
    within_2m = value("engage_send_lateness_seconds_bucket", provider="twilio", le="120.0")
    within_1m = value("engage_send_lateness_seconds_bucket", provider="twilio", le="60.0")
    kit.message(kit.patient())
    kit.clock.advance(seconds=90)
    kit.run_due()
    assert value("engage_sends_total", provider="twilio") == sends + 1
    assert (
        value("engage_send_lateness_seconds_bucket", provider="twilio", le="120.0") == within_2m + 1
    )
    assert value("engage_send_lateness_seconds_bucket", provider="twilio", le="60.0") == within_1m


def test_a_provider_error_counts_its_code_and_a_retry(kit: Kit, fake: ProviderServer) -> None:
    errors = value("engage_provider_errors_total", provider="twilio", code="20503")
    retries = value("engage_retries_total", provider="twilio")
    failed_calls = value(
        "engage_provider_request_seconds_count", provider="twilio", outcome="error"
    )
    fake.script(TWILIO, twilio_error(503, 20503))
    kit.message(kit.patient())
    kit.run_due()
    assert value("engage_provider_errors_total", provider="twilio", code="20503") == errors + 1
    assert value("engage_retries_total", provider="twilio") == retries + 1
    assert (
        value("engage_provider_request_seconds_count", provider="twilio", outcome="error")
        == failed_calls + 1
    )


def test_a_permanent_error_is_not_counted_as_a_retry(kit: Kit, fake: ProviderServer) -> None:
    retries = value("engage_retries_total", provider="twilio")
    fake.script(TWILIO, twilio_error(400, 21211))
    kit.message(kit.patient())
    kit.run_due()
    assert value("engage_provider_errors_total", provider="twilio", code="21211") >= 1
    assert value("engage_retries_total", provider="twilio") == retries


def test_a_suppressed_message_counts_its_reason(kit: Kit) -> None:
    before = value("engage_suppressions_total", reason="sms consent closed")
    pid = kit.patient(email=False)
    kit.message(pid)
    with kit.sessions.begin() as s:
        s.query(Consent).filter_by(patient_id=pid, channel="sms").update({"granted": False})
    kit.run_due()
    assert value("engage_suppressions_total", reason="sms consent closed") == before + 1


def scrape(collector: OutboxCollector) -> CollectorRegistry:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(collector)
    return registry


def test_outbox_gauges_count_messages_by_state_and_the_due_backlog(kit: Kit) -> None:
    pid = kit.patient()
    overdue = [kit.message(pid, due_in=-600), kit.message(pid, due_in=-60)]
    kit.message(pid, due_in=3600)  # scheduled, not yet due: not backlog
    emailed = kit.message(pid, channel="email", due_in=-30)
    with kit.sessions.begin() as s:
        s.get_one(Message, emailed).state = S.FAILED
    registry = scrape(OutboxCollector(kit.sessions, clock=kit.clock))
    sample = registry.get_sample_value
    assert sample("engage_database_up", {}) == 1
    assert sample("engage_messages", {"state": "scheduled", "channel": "sms"}) == 3
    assert sample("engage_messages", {"state": "failed", "channel": "email"}) == 1
    assert sample("engage_messages", {"state": "delivered", "channel": "sms"}) == 0
    assert sample("engage_backlog_messages", {"channel": "sms"}) == len(overdue)
    assert sample("engage_backlog_messages", {"channel": "email"}) == 0
    assert sample("engage_backlog_oldest_age_seconds", {"channel": "sms"}) == 600
    kit.clock.advance(minutes=1)
    assert sample("engage_backlog_oldest_age_seconds", {"channel": "sms"}) == 660


def test_an_unreachable_database_reads_as_down_not_as_an_error() -> None:
    engine = make_engine(
        "postgresql://nobody@127.0.0.1:1/none", connect_args={"connect_timeout": 1}
    )
    registry = scrape(OutboxCollector(session_factory(engine)))
    assert registry.get_sample_value("engage_database_up", {}) == 0
    assert registry.get_sample_value("engage_backlog_messages", {"channel": "sms"}) is None


def test_a_critical_message_not_reached_15_minutes_after_it_was_due_is_counted(kit: Kit) -> None:
    pid = kit.patient()
    kit.message(pid, due_in=-20 * 60, critical=True)  # still scheduled: counted
    failed = kit.message(pid, due_in=-30 * 60, critical=True)
    sent = kit.message(pid, due_in=-30 * 60, critical=True)
    kit.message(pid, due_in=-5 * 60, critical=True)  # late, but within the grace
    kit.message(pid, due_in=-60 * 60)  # not critical
    with kit.sessions.begin() as s:
        s.get_one(Message, failed).state = S.FAILED
        s.get_one(Message, sent).state = S.SENT
    registry = scrape(OutboxCollector(kit.sessions, clock=kit.clock))
    assert registry.get_sample_value("engage_critical_undelivered_messages", {}) == 2


def test_a_scrape_serves_the_table_wide_counts_it_has_and_refreshes_them_on_a_thread(
    kit: Kit, monkeypatch: pytest.MonkeyPatch
) -> None:
    """At ten million messages the all-time counts take seconds: only the first scrape waits."""
    import engage.ops.metrics_scrape as scrape_module

    pid = kit.patient()
    kit.message(pid)
    collector = OutboxCollector(kit.sessions, clock=kit.clock, counts_every=0.0)
    registry = scrape(collector)
    key = {"state": "scheduled", "channel": "sms"}
    assert registry.get_sample_value("engage_messages", key) == 1  # the first read: now
    read = threading.Event()
    release = threading.Event()
    slow = scrape_module.counts_by_state

    def counts_by_state(session: Session) -> dict[tuple[str, str], int]:
        read.set()
        release.wait(10)  # a read of the whole table, still going while the scrapes answer
        return slow(session)

    monkeypatch.setattr(scrape_module, "counts_by_state", counts_by_state)
    kit.message(pid)
    started = time.monotonic()
    assert registry.get_sample_value("engage_messages", key) == 1  # served, not waited for
    assert read.wait(5)  # ...and read again off the scrape
    assert registry.get_sample_value("engage_messages", key) == 1  # one refresh at a time
    assert time.monotonic() - started < 5
    assert registry.get_sample_value("engage_outbox_counts_age_seconds", {}) is not None
    release.set()
    deadline = time.monotonic() + 5
    while registry.get_sample_value("engage_messages", key) != 2:
        assert time.monotonic() < deadline, "the refreshed counts never reached a scrape"
        time.sleep(0.01)
