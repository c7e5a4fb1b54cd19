"""From a staff member's enrollment to the patient's phone and back, without a broker:
the API enrolls, the dispatcher and sender deliver through the real Twilio and SendGrid SDKs
(pointed at the fake provider server), and the providers' signed callbacks come back to the API
and show on the timeline."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import pytest

from engage.delivery.claim import Claimed
from engage.delivery.dispatcher import Dispatcher
from engage.delivery.ratelimit import LocalRateLimiter
from engage.delivery.retry import RetryPolicy
from engage.delivery.sender import Sender
from engage.rendering.environment import make_environment
from engage.store import Message
from tests.api_kit import NOW, PUBLIC_URL, ROOT, SIGNING_SECRET, Api, build_api
from tests.delivery_kit import provider_channels, provider_settings
from tests.fakes.provider_server import SENDGRID, TWILIO, ProviderServer

INFUSION = (NOW + timedelta(hours=1)).isoformat()  # 09:00 in San Francisco


@pytest.fixture
def api(db_url: str, tmp_path: Path) -> Api:
    return build_api(db_url, tmp_path)


@pytest.fixture
def dispatcher(api: Api, fake: ProviderServer, tmp_path: Path) -> Dispatcher:
    """The production dispatcher and sender, sending each claimed message at once."""
    providers = provider_settings(fake.url, public_url=PUBLIC_URL)
    runtime = api.app.state.runtime
    sender = Sender(
        sessions=api.sessions,
        schedule=runtime.schedule,
        env=make_environment(ROOT / "templates"),
        channels=provider_channels(providers),
        limiter=LocalRateLimiter({"twilio": 1000.0, "sendgrid": 1000.0}),
        policy=RetryPolicy(max_attempts=3, base=1.0, cap=10.0),
        public_url=PUBLIC_URL,
        signing_secret=SIGNING_SECRET,
        clock=api.clock,
    )

    def enqueue(claimed: list[Claimed]) -> None:
        for item in claimed:
            sender.send(item.id)

    return Dispatcher(api.sessions, enqueue, batch_size=100, clock=api.clock)


def provider_id(api: Api, message_id: int) -> str:
    with api.sessions() as s:
        found = s.get_one(Message, message_id).provider_id
        assert found
        return found


def entry(api: Api, patient_id: int, step: str) -> dict[str, Any]:
    return next(m for m in api.timeline(patient_id) if m["step"] == step)


def test_enrollment_to_delivered_on_the_timeline(
    api: Api, fake: ProviderServer, dispatcher: Dispatcher
) -> None:
    patient = api.patient()
    api.post(
        f"/patients/{patient['id']}/enrollments",
        json={"sequence": "post-infusion", "events": [{"name": "infusion.start", "at": INFUSION}]},
    )
    discharge = entry(api, patient["id"], "discharge")
    assert discharge["state"] == "scheduled" and discharge["channel"] == "sms"

    api.clock.advance(hours=2)
    assert dispatcher.tick() == 1
    [request] = fake.requests_to(TWILIO)
    assert request.form()["To"] == patient["phone"]
    callback = urlparse(request.form()["StatusCallback"])
    assert callback.path == f"/webhooks/twilio/status/{discharge['id']}"
    assert entry(api, patient["id"], "discharge")["state"] == "sent"

    sid = provider_id(api, discharge["id"])
    for status in ("sent", "delivered"):
        answer = api.twilio(callback.path, {"MessageSid": sid, "MessageStatus": status})
        assert answer.status_code == 200
    delivered = entry(api, patient["id"], "discharge")
    assert delivered["state"] == "delivered" and delivered["provider_status"] == "delivered"
    assert delivered["sent_at"] and delivered["delivered_at"]
    assert [h["to_state"] for h in delivered["history"]] == [
        "scheduled",
        "queued",
        "sending",
        "sent",
        "delivered",
    ]


def test_stop_stops_every_later_sms_confirms_once_and_safety_falls_back_to_email(
    api: Api, fake: ProviderServer, dispatcher: Dispatcher
) -> None:
    patient = api.patient()
    for sequence, events in (
        ("post-infusion", [{"name": "infusion.start", "at": INFUSION}]),
        ("education", []),
    ):
        answer = api.post(
            f"/patients/{patient['id']}/enrollments",
            json={"sequence": sequence, "events": events},
        )
        assert answer.status_code == 201
    assert {m["channel"] for m in api.timeline(patient["id"])} == {"sms"}

    first = api.sms_in(patient["phone"], "STOP")
    assert first.text.count("<Message>") == 1
    assert "<Message>" not in api.sms_in(patient["phone"], "Stop").text

    for _ in range(4):  # two days of ticks: discharge, next-day check-in, education
        api.clock.advance(hours=12)
        dispatcher.tick()
    assert fake.requests_to(TWILIO) == []

    discharge = entry(api, patient["id"], "discharge")
    assert discharge["channel"] == "email" and discharge["state"] == "sent"
    assert "fallback: sms closed, sent by email" in [h["reason"] for h in discharge["history"]]
    [email] = [
        r
        for r in fake.requests_to(SENDGRID)
        if r.json()["personalizations"][0]["custom_args"]["engage_message_id"]
        == str(discharge["id"])
    ]
    assert email.json()["personalizations"][0]["to"][0]["email"] == patient["email"]

    answer = api.sendgrid(
        [
            {
                "event": "delivered",
                "sg_event_id": "evt-1",
                "sg_message_id": "x.filter",
                "engage_message_id": str(discharge["id"]),
                "timestamp": 1804000000,
            }
        ]
    )
    assert answer.json()["applied"] == 1
    assert entry(api, patient["id"], "discharge")["state"] == "delivered"
    sent_sms = [m for m in api.timeline(patient["id"]) if m["channel"] == "sms" and m["sent_at"]]
    assert sent_sms == []
