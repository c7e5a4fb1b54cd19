"""The fake provider server run as its own process, as benchmarks and multi-process tests use it."""

from __future__ import annotations

import json
import subprocess
import sys
import time
import urllib.request
from typing import Any

import pytest

from engage.channels.base import Outgoing
from engage.channels.sendgrid import SendGridChannel
from engage.channels.twilio import TwilioChannel
from engage.errors import DeliveryError
from engage.settings import Settings


@pytest.fixture
def server_process(repo_root):
    process = subprocess.Popen(
        [sys.executable, "-m", "tests.fakes.provider_server", "--port", "0", "--latency-ms", "50"],
        cwd=repo_root,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        assert line.startswith("listening on "), line
        yield process, line.split()[-1]
    finally:
        process.terminate()
        process.wait(timeout=5)


def settings_for(url: str) -> Settings:
    return Settings(
        twilio_account_sid="AC" + "0" * 32,
        twilio_auth_token="token",
        twilio_from="+15017122661",
        twilio_base_url=url,
        sendgrid_api_key="SG.key",
        sendgrid_from="clinic@example.org",
        sendgrid_base_url=url,
    )


def control(url: str, method: str, body: object = None) -> Any:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(
        url + "/_fake/" + ("script" if body else "requests"), data, method=method
    )
    with urllib.request.urlopen(request, timeout=5) as response:
        raw = response.read()
    return json.loads(raw) if raw else None


def test_it_answers_both_providers_after_the_configured_latency(server_process):
    _, url = server_process
    settings = settings_for(url)
    started = time.monotonic()
    TwilioChannel(settings).send(Outgoing(1, "sms", "+15558675310", "hi"))
    SendGridChannel(settings).send(Outgoing(2, "email", "p@example.com", "hi", subject="s"))
    assert time.monotonic() - started >= 2 * 0.050
    recorded = control(url, "GET")
    assert [r["route"] for r in recorded] == ["twilio", "sendgrid"]
    assert "StatusCallback=" in recorded[0]["body"]


def test_it_can_be_scripted_and_cleared_over_http(server_process):
    _, url = server_process
    reply = {"status": 429, "body": {"code": 20429, "message": "slow down", "status": 429}}
    control(
        url, "POST", {"route": "twilio", "replies": [{**reply, "headers": {"Retry-After": "2"}}]}
    )
    channel = TwilioChannel(settings_for(url))
    with pytest.raises(DeliveryError) as caught:
        channel.send(Outgoing(1, "sms", "+15558675310", "hi"))
    assert (caught.value.code, caught.value.retry_after) == ("20429", 2.0)
    control(url, "DELETE")
    assert control(url, "GET") == []


def test_it_stops_promptly_on_sigterm(server_process):
    process, _ = server_process
    process.terminate()
    assert process.wait(timeout=2) == 0
