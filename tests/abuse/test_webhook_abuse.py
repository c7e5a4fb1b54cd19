"""Webhooks and unsubscribe links under attack: stale replays, deep nesting, floods of forged
signatures and guessed tokens (issue 14 items 6 and 8)."""

from __future__ import annotations

import json
from datetime import timedelta

from fastapi.testclient import TestClient

from tests.api_kit import Api, sendgrid_signature


def signed_sendgrid(api: Api, payload: bytes, timestamp: str) -> int:
    answer = api.client.post(
        "/webhooks/sendgrid/events",
        content=payload,
        headers={
            "Content-Type": "application/json",
            "X-Twilio-Email-Event-Webhook-Signature": sendgrid_signature(
                api.sendgrid_private, payload, timestamp
            ),
            "X-Twilio-Email-Event-Webhook-Timestamp": timestamp,
        },
    )
    return answer.status_code


def test_a_validly_signed_sendgrid_delivery_from_2001_is_refused(api: Api) -> None:
    payload = json.dumps([{"event": "bounce", "sg_event_id": "old", "engage_message_id": "1"}])
    assert signed_sendgrid(api, payload.encode(), "1000000000") == 403  # 2001-09-09


def test_a_delivery_older_than_the_tolerance_is_refused_and_a_fresh_one_applied(api: Api) -> None:
    payload = b"[]"
    now = api.clock()
    stale = str(int((now - timedelta(minutes=11)).timestamp()))
    fresh = str(int((now - timedelta(minutes=9)).timestamp()))
    assert signed_sendgrid(api, payload, stale) == 403
    assert signed_sendgrid(api, payload, fresh) == 200


def test_deeply_nested_signed_json_is_a_4xx_not_a_recursion_error(api: Api) -> None:
    payload = b"[" * 100_000 + b"]" * 100_000
    timestamp = str(int(api.clock().timestamp()))
    status = signed_sendgrid(api, payload, timestamp)
    assert 400 <= status < 500, status


def test_a_flood_of_forged_twilio_signatures_is_throttled_per_source(api: Api) -> None:
    statuses = [
        api.client.post(
            "/webhooks/twilio/sms", data={"Body": "STOP"}, headers={"X-Twilio-Signature": "bad"}
        ).status_code
        for _ in range(25)
    ]
    assert statuses[:20] == [403] * 20
    assert set(statuses[20:]) == {429}
    assert "retry-after" in api.client.post("/webhooks/twilio/sms").headers


def test_valid_stop_from_twilio_is_never_throttled_by_someone_elses_flood(api: Api) -> None:
    attacker = TestClient(api.app, client=("203.0.113.9", 5000))
    for _ in range(40):
        attacker.post("/webhooks/twilio/sms", headers={"X-Twilio-Signature": "bad"})
    patient = api.patient()
    for _ in range(30):  # Twilio's own source, many valid requests: none counts as a failure
        assert api.sms_in(patient["phone"], "STOP").status_code == 200


def test_guessing_unsubscribe_tokens_is_throttled(api: Api) -> None:
    statuses = {api.client.post(f"/unsubscribe/1/guess{i}").status_code for i in range(30)}
    assert statuses == {403, 429}
