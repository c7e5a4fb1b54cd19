"""`engage failed` and `engage status` as an operator runs them, on PostgreSQL and Redis."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from typer.testing import CliRunner

from engage.cli.main import app
from engage.ops.broker import queue_depths
from engage.ops.heartbeat import PREFIX, heartbeat
from engage.settings import Settings
from engage.store import AuditLog, Message, MessageState
from tests.delivery_kit import Kit
from tests.ops_support import fresh_postgres, make_dead, real_time_kit

pytestmark = [pytest.mark.postgres, pytest.mark.redis]
S = MessageState


@pytest.fixture
def db(postgres_server_url: str) -> Iterator[str]:
    yield from fresh_postgres(postgres_server_url)


@pytest.fixture
def kit(db: str, tmp_path: Path) -> Kit:
    return real_time_kit(db, tmp_path)


@pytest.fixture
def settings(db: str, redis_url: str) -> Settings:
    return Settings(database_url=db, broker_url=redis_url)


@pytest.fixture
def engage(settings: Settings, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("ENGAGE_DATABASE_URL", settings.database_url)
    monkeypatch.setenv("ENGAGE_BROKER_URL", settings.broker_url)
    monkeypatch.setenv("ENGAGE_SIGNING_SECRET", "s" * 32)  # a broker: not the embedded mode
    monkeypatch.setenv("USER", "olga")
    runner = CliRunner()

    def run(*args: str):
        return runner.invoke(app, list(args))

    return run


def test_failed_list_shows_each_dead_letter_with_its_reason(kit: Kit, engage) -> None:
    invalid = make_dead(kit)
    bounced = make_dead(kit, S.UNDELIVERED, "carrier: 30006 landline", "30006")
    result = engage("failed", "list")
    assert result.exit_code == 0, result.output
    assert "2 dead letter(s)" in result.output
    assert "invalid number" in result.output and "30006 landline" in result.output
    lines = [json.loads(line) for line in engage("failed", "list", "--json").output.splitlines()]
    assert [(row["id"], row["state"]) for row in lines] == [
        (bounced, "undelivered"),
        (invalid, "failed"),
    ]


def test_failed_list_narrows_by_reason_and_since(kit: Kit, engage) -> None:
    make_dead(kit)
    timed_out = make_dead(kit, reason="gave up after 6 attempts: twilio: timed out", code="timeout")
    rows = engage("failed", "list", "--reason", "timeout", "--since", "1h", "--json").output
    assert [json.loads(line)["id"] for line in rows.splitlines()] == [timed_out]
    assert engage("failed", "list", "--since", "yesterday").exit_code == 2


def test_requeue_by_id_requeues_and_refuses_what_was_delivered(kit: Kit, engage) -> None:
    failed = make_dead(kit)
    delivered = make_dead(kit, S.UNDELIVERED, "late callback", None, provider_status="delivered")
    result = engage("failed", "requeue", str(failed), str(delivered))
    assert result.exit_code == 1
    assert f"message {failed}: requeued: due now (cli:olga)" in result.output
    assert (
        f"message {delivered}: refused: twilio reports it delivered: requeueing would send it twice"
        in result.output
    )
    assert "1 of 2 requeued" in result.output
    assert kit.get(failed).state == S.SCHEDULED and kit.get(failed).reason == "requeued by cli:olga"
    assert kit.get(delivered).state == S.UNDELIVERED
    with kit.sessions() as s:
        assert [a.entity_id for a in s.query(AuditLog).filter_by(action="message.requeue")] == [
            str(failed)
        ]


def test_requeue_all_with_a_reason_and_a_dry_run_first(kit: Kit, engage) -> None:
    kept = make_dead(kit)
    timeouts = [make_dead(kit, reason="twilio: timed out", code="timeout") for _ in range(2)]
    dry = engage("failed", "requeue", "--all", "--reason", "timeout", "--dry-run")
    assert dry.exit_code == 0 and "dry run: 2 of 2 requeued" in dry.output
    assert {kit.get(m).state for m in timeouts} == {S.FAILED}
    real = engage("failed", "requeue", "--all", "--reason", "timeout", "--actor", "oncall:olga")
    assert real.exit_code == 0 and "2 of 2 requeued" in real.output
    assert {kit.get(m).reason for m in timeouts} == {"requeued by oncall:olga"}
    assert kit.get(kept).state == S.FAILED


def test_requeue_needs_ids_or_all(engage) -> None:
    result = engage("failed", "requeue")
    assert result.exit_code == 2 and "give message ids, or --all" in result.output


@pytest.fixture
def busy_outbox(kit: Kit, settings: Settings) -> Iterator[Kit]:
    """An hour of activity: sends with known lateness, a backlog, failures, a queued task."""
    now = kit.clock.now
    pid = kit.patient()
    for late in (10, 20, 30, 40, 600):
        mid = kit.message(pid, due_in=-3000)
        with kit.sessions.begin() as s:
            m = s.get_one(Message, mid)
            m.state, m.sent_at, m.due_at = (
                S.SENT,
                now - timedelta(minutes=20),
                now - timedelta(minutes=20, seconds=late),
            )
    for _ in range(3):
        kit.message(pid, due_in=-120)  # due two minutes ago, not sent: the backlog
    for _ in range(2):
        make_dead(kit, reason="permanent: twilio 21211: invalid number")
    make_dead(kit, reason="gave up after 6 attempts: twilio: timed out", code="timeout")
    from engage.ops.queues import make_celery

    celery = make_celery(settings)
    celery.send_task("engage.send", args=(0,), queue="email")
    heartbeat(settings, "dispatcher")
    yield kit
    with celery.connection_for_write() as conn:
        conn.default_channel.queue_purge("email")
    celery.close()
    import redis

    client = redis.Redis.from_url(settings.broker_url)
    for key in client.scan_iter(match=f"{PREFIX}:dispatcher:*"):
        client.delete(key)


def test_status_json_reports_backlog_lateness_failures_queues_and_liveness(
    busy_outbox: Kit, engage, settings: Settings
) -> None:
    result = engage("status", "--json")
    assert result.exit_code == 0, result.output
    snap = json.loads(result.output)
    assert snap["backlog"]["total"] == 3 and snap["backlog"]["by_channel"] == {"sms": 3}
    assert 120 <= snap["backlog"]["oldest_seconds"] < 180
    assert snap["lateness_seconds"] == {"p50": 30.0, "p99": 600.0, "samples": 5}
    assert snap["channels"]["sms"]["failed"] == 3
    assert snap["top_failures"][0] == {
        "reason": "permanent: twilio 21211: invalid number",
        "count": 2,
    }
    assert snap["queues"]["error"] is None and snap["queues"]["depths"]["email"] >= 1
    assert snap["dispatcher"]["alive"] is True
    assert snap["workers"]["alive"] in (True, False)  # a ping went out and was answered or not


def test_status_screen_shows_every_section(busy_outbox: Kit, engage) -> None:
    result = engage("status")
    assert result.exit_code == 0, result.output
    for words in (
        "Backlog",
        "3 due and unsent (sms 3)",
        "p50 30.0s  p99 10m 00s",
        "Dispatcher",
        "alive",
        "Workers",
        "Queues",
        "Per channel",
        "Top failure reasons",
        "invalid number",
    ):
        assert words in result.output, words


def test_status_says_when_the_broker_is_down(
    kit: Kit, engage, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ENGAGE_BROKER_URL", "redis://127.0.0.1:1/0")
    snap = json.loads(engage("status", "--json").output)
    assert snap["queues"]["error"].startswith("broker unreachable")
    assert snap["workers"]["alive"] is None and snap["dispatcher"]["alive"] is False


def test_queue_depth_counts_what_waits_in_redis(busy_outbox: Kit, settings: Settings) -> None:
    assert queue_depths(settings).depths["email"] >= 1
