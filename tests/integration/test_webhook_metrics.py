"""Provider callbacks are counted by kind, once each: a redelivered event is not counted again."""

from __future__ import annotations

from pathlib import Path

import pytest
from prometheus_client import REGISTRY

from tests.api_kit import Api, build_api


@pytest.fixture
def api(db_url: str, tmp_path: Path) -> Api:
    return build_api(db_url, tmp_path)


def counted(provider: str, kind: str) -> float:
    labels = {"provider": provider, "kind": kind}
    return REGISTRY.get_sample_value("engage_webhook_events_total", labels) or 0.0


def test_twilio_status_callbacks_count_by_status_and_duplicates_do_not(api: Api) -> None:
    before = counted("twilio", "undelivered")
    params = {"MessageSid": "SM1", "MessageStatus": "undelivered", "ErrorCode": "30003"}
    token = {"I-Twilio-Idempotency-Token": "metrics-1"}
    for _ in range(2):
        assert (
            api.twilio("/webhooks/twilio/status/999999", params, headers=token).status_code == 200
        )
    assert counted("twilio", "undelivered") == before + 1


def test_inbound_sms_counts_as_inbound(api: Api) -> None:
    before = counted("twilio", "inbound")
    api.sms_in("+14155550199", "hello", sid="SMin-metrics")
    assert counted("twilio", "inbound") == before + 1


def test_sendgrid_events_count_by_event_name(api: Api) -> None:
    before = (counted("sendgrid", "bounce"), counted("sendgrid", "open"))
    base = {"timestamp": 1804000000, "sg_message_id": "sgid.f", "engage_message_id": "999999"}
    events = [
        {**base, "event": "bounce", "sg_event_id": "m1"},
        {**base, "event": "open", "sg_event_id": "m2"},
        {**base, "event": "open", "sg_event_id": "m2"},  # redelivered
    ]
    assert api.sendgrid(events).status_code == 200
    assert (counted("sendgrid", "bounce"), counted("sendgrid", "open")) == (
        before[0] + 1,
        before[1] + 1,
    )
