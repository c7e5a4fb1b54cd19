"""The operator API as a monitoring system and an on-call engineer use it (PostgreSQL, Redis)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from engage.api.app import create_app
from engage.runtime import Runtime
from engage.settings import Settings
from engage.store import AuditLog, MessageState
from engage.store.tokens import Role, create_token
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
def client(db: str, redis_url: str) -> Iterator[TestClient]:
    runtime = Runtime(Settings(database_url=db, broker_url=redis_url))
    with TestClient(create_app(runtime.settings, runtime)) as client:
        yield client
    runtime.engine.dispose()


def bearer(kit: Kit, role: Role, name: str = "olga") -> dict[str, str]:
    with kit.sessions.begin() as s:
        _, raw = create_token(s, name=name, role=role, actor="test")
    return {"Authorization": f"Bearer {raw}"}


def test_failed_list_needs_an_ops_token(client: TestClient, kit: Kit) -> None:
    assert client.get("/ops/failed").status_code == 401
    assert client.get("/ops/failed", headers=bearer(kit, Role.STAFF, "sam")).status_code == 403
    assert client.get("/ops/failed", headers=bearer(kit, Role.OPS)).status_code == 200


def test_failed_list_returns_dead_letters_with_reasons(client: TestClient, kit: Kit) -> None:
    invalid = make_dead(kit)
    make_dead(kit, reason="twilio: timed out", code="timeout")
    rows = client.get(
        "/ops/failed", params={"reason": "21211", "since": "1h"}, headers=bearer(kit, Role.OPS)
    ).json()
    assert [(r["id"], r["state"], r["error_code"]) for r in rows] == [(invalid, "failed", "21211")]
    assert rows[0]["reason"] == "permanent: twilio 21211: invalid number"


def test_a_bad_since_is_a_422_naming_the_parameter(client: TestClient, kit: Kit) -> None:
    answer = client.get("/ops/failed", params={"since": "last week"}, headers=bearer(kit, Role.OPS))
    assert answer.status_code == 422
    assert answer.json()["detail"][0]["loc"] == ["query", "since"]


def test_requeue_by_ids_is_audited_with_the_token_name(client: TestClient, kit: Kit) -> None:
    failed = make_dead(kit)
    delivered = make_dead(kit, S.FAILED, "late", None, provider_status="read")
    answer = client.post(
        "/ops/failed/requeue",
        json={"ids": [failed, delivered, 424242]},
        headers=bearer(kit, Role.OPS),
    )
    assert answer.status_code == 200
    body = answer.json()
    assert body["requeued"] == 1
    assert [(r["message_id"], r["outcome"]) for r in body["results"]] == [
        (failed, "requeued"),
        (delivered, "refused"),
        (424242, "not found"),
    ]
    assert kit.get(failed).reason == "requeued by api:olga"
    with kit.sessions() as s:
        row = s.query(AuditLog).filter_by(action="message.requeue").one()
    assert (row.actor, row.entity_id) == ("api:olga", str(failed))


def test_requeue_all_by_reason(client: TestClient, kit: Kit) -> None:
    kept = make_dead(kit)
    timeouts = [make_dead(kit, reason="twilio: timed out", code="timeout") for _ in range(2)]
    body = client.post(
        "/ops/failed/requeue",
        json={"all": True, "reason": "timeout"},
        headers=bearer(kit, Role.OPS),
    ).json()
    assert sorted(r["message_id"] for r in body["results"]) == sorted(timeouts)
    assert kit.get(kept).state == S.FAILED


def test_requeue_body_must_choose_ids_or_all(client: TestClient, kit: Kit) -> None:
    headers = bearer(kit, Role.OPS)
    assert client.post("/ops/failed/requeue", json={}, headers=headers).status_code == 422
    both = {"ids": [1], "all": True}
    assert client.post("/ops/failed/requeue", json=both, headers=headers).status_code == 422


def test_status_answers_the_snapshot(client: TestClient, kit: Kit) -> None:
    make_dead(kit)
    kit.message(kit.patient(), due_in=-60)
    snap = client.get("/ops/status", headers=bearer(kit, Role.OPS)).json()
    assert snap["backlog"]["total"] == 1 and snap["channels"]["sms"]["failed"] == 1
    assert snap["queues"]["error"] is None


def test_ready_when_database_migrations_and_broker_are_fine(client: TestClient) -> None:
    answer = client.get("/ready")
    assert answer.status_code == 200
    assert [(c["name"], c["ok"]) for c in answer.json()["checks"]] == [
        ("database", True),
        ("migrations", True),
        ("broker", True),
    ]


def test_not_ready_when_the_broker_is_down(db: str) -> None:
    runtime = Runtime(Settings(database_url=db, broker_url="redis://127.0.0.1:1/0"))
    with TestClient(create_app(runtime.settings, runtime)) as client:
        answer = client.get("/ready")
    assert answer.status_code == 503
    checks = {c["name"]: c for c in answer.json()["checks"]}
    assert checks["database"]["ok"] and not checks["broker"]["ok"]
    assert answer.json()["ready"] is False


def test_not_ready_before_migrations(tmp_path: Path) -> None:
    runtime = Runtime(Settings(database_url=f"sqlite:///{tmp_path}/empty.db"))
    with TestClient(create_app(runtime.settings, runtime)) as client:
        answer = client.get("/ready")
    checks = {c["name"]: c for c in answer.json()["checks"]}
    assert answer.status_code == 503 and not checks["migrations"]["ok"]
    assert "run `engage db upgrade`" in checks["migrations"]["detail"]


def test_metrics_serves_outbox_queue_and_send_series_without_a_token(
    client: TestClient, kit: Kit
) -> None:
    kit.message(kit.patient(), due_in=-30)
    answer = client.get("/metrics")
    assert answer.status_code == 200 and answer.headers["content-type"].startswith("text/plain")
    text = answer.text
    for series in (
        'engage_messages{channel="sms",state="scheduled"} 1.0',
        'engage_backlog_messages{channel="sms"} 1.0',
        'engage_backlog_oldest_age_seconds{channel="sms"}',
        'engage_queue_depth{queue="sms"}',
        "engage_broker_up 1.0",
        "engage_database_up 1.0",
        "# TYPE engage_send_lateness_seconds histogram",
        "# TYPE engage_provider_request_seconds histogram",
        "# TYPE engage_provider_errors_total counter",
        "# TYPE engage_webhook_events_total counter",
        "# TYPE engage_retries_total counter",
        "# TYPE engage_suppressions_total counter",
    ):
        assert series in text, series


def test_requeue_refuses_ids_that_are_not_message_ids(client: TestClient, kit: Kit) -> None:
    headers = bearer(kit, Role.OPS)
    for ids in ([True], [0], [2**31], ["7"]):
        answer = client.post("/ops/failed/requeue", json={"ids": ids}, headers=headers)
        assert answer.status_code == 422, ids
