"""The real Twilio SDK, through our channel, against our fake provider server.

Every row of the error table is proven on the wire: Twilio's JSON error body in, a classified
DeliveryError out.
"""

from __future__ import annotations

import logging
import socket
import time
from typing import Any

import pytest

from engage.channels.base import Outgoing
from engage.channels.twilio import PERMANENT_CODES, RETRYABLE, TwilioChannel
from engage.errors import DeliveryError
from engage.settings import Settings
from tests.fakes.provider_server import TWILIO, ProviderServer, Reply, hang, twilio_error

ACCOUNT = "AC" + "0123456789abcdef" * 2
PHONE = "+15558675310"
BODY = "Reminder: infusion tomorrow 09:00"
TIMEOUT = 0.5


@pytest.fixture
def fake():
    with ProviderServer() as server:
        yield server


def settings_for(url: str, **overrides) -> Settings:
    values: dict[str, Any] = {
        "twilio_account_sid": ACCOUNT,
        "twilio_auth_token": "token",
        "twilio_from": "+15017122661",
        "twilio_base_url": url,
        "public_url": "https://engage.clinic.example",
        "send_timeout_seconds": TIMEOUT,
        **overrides,
    }
    return Settings(**values)


@pytest.fixture
def channel(fake):
    return TwilioChannel(settings_for(fake.url))


def sms(message_id: int = 41) -> Outgoing:
    return Outgoing(message_id, "sms", PHONE, BODY)


def failure(channel: TwilioChannel, message: Outgoing | None = None) -> DeliveryError:
    with pytest.raises(DeliveryError) as caught:
        channel.send(message or sms())
    return caught.value


def test_a_send_posts_one_message_with_our_id_in_the_status_callback(fake, channel):
    receipt = channel.send(sms(41))
    [request] = fake.requests_to(TWILIO)
    form = request.form()
    assert request.path == f"/2010-04-01/Accounts/{ACCOUNT}/Messages.json"
    assert form["StatusCallback"] == "https://engage.clinic.example/webhooks/twilio/status/41"
    assert (form["To"], form["From"], form["Body"]) == (PHONE, "+15017122661", BODY)
    assert receipt.provider == "twilio" and receipt.provider_id.startswith("SM")


def test_a_messaging_service_sid_is_used_instead_of_a_from_number(fake):
    channel = TwilioChannel(settings_for(fake.url, twilio_messaging_service_sid="MG" + "1" * 32))
    channel.send(sms())
    form = fake.requests_to(TWILIO)[0].form()
    assert form["MessagingServiceSid"] == "MG" + "1" * 32
    assert "From" not in form


@pytest.mark.parametrize("code", sorted(PERMANENT_CODES))
def test_every_permanent_twilio_code_is_a_permanent_error(fake, channel, code):
    fake.script(TWILIO, twilio_error(401 if code == 20003 else 400, code))
    error = failure(channel)
    assert error.permanent and error.code == str(code)
    assert PERMANENT_CODES[code] in error.reason


# The HTTP status each retryable code arrives with; the code table wins over a 4xx status.
RETRY_STATUS = {20429: 429, 20500: 500, 20503: 503}


@pytest.mark.parametrize("code", sorted(RETRYABLE))
def test_every_retryable_twilio_code_is_a_transient_error(fake, channel, code):
    fake.script(TWILIO, twilio_error(RETRY_STATUS.get(code, 400), code))
    error = failure(channel)
    assert not error.permanent and error.code == str(code)


def test_invalid_number_21211_is_permanent(fake, channel):
    fake.script(
        TWILIO, twilio_error(400, 21211, f"The 'To' number {PHONE} is not a valid phone number.")
    )
    error = failure(channel)
    assert (error.permanent, error.code) == (True, "21211")


def test_unsubscribed_21610_is_permanent_and_exposes_its_code_so_the_caller_closes_consent(
    fake, channel
):
    fake.script(TWILIO, twilio_error(400, 21610, "Attempt to send to unsubscribed recipient"))
    error = failure(channel)
    assert (error.permanent, error.code) == (True, "21610")


def test_429_is_retried_after_the_retry_after_header_then_the_next_attempt_succeeds(fake, channel):
    fake.script(TWILIO, twilio_error(429, 20429, "Too Many Requests", Retry_After="7"))
    error = failure(channel)
    assert (error.permanent, error.code, error.retry_after) == (False, "20429", 7.0)
    assert channel.send(sms()).provider_id.startswith("SM")


def test_a_retry_after_is_not_carried_over_to_the_next_error(fake, channel):
    fake.script(TWILIO, twilio_error(429, 20429, Retry_After="7"), twilio_error(500, 20500))
    failure(channel)
    assert failure(channel).retry_after is None


def test_a_500_storm_is_transient_every_time(fake, channel):
    fake.script(TWILIO, *[Reply(500, "Internal Server Error")] * 3)
    errors = [failure(channel) for _ in range(3)]
    assert [(e.permanent, e.code) for e in errors] == [(False, "500")] * 3
    assert len(fake.requests_to(TWILIO)) == 3  # one attempt per send: the SDK itself never retries


def test_a_503_with_retry_after_is_honoured(fake, channel):
    fake.script(TWILIO, Reply(503, "", {"Retry-After": "30"}))
    error = failure(channel)
    assert (error.permanent, error.retry_after) == (False, 30.0)


def test_an_unknown_4xx_code_is_permanent(fake, channel):
    fake.script(TWILIO, twilio_error(400, 21999), twilio_error(404, 20404))
    assert [(e.permanent, e.code) for e in (failure(channel), failure(channel))] == [
        (True, "21999"),
        (True, "20404"),
    ]


def test_a_reply_slower_than_the_timeout_is_a_transient_timeout(fake, channel):
    fake.script(TWILIO, hang(TIMEOUT * 4))
    started = time.monotonic()
    error = failure(channel)
    assert (error.permanent, error.code) == (False, "timeout")
    assert time.monotonic() - started < TIMEOUT * 3


def test_a_refused_connection_is_transient():
    with socket.socket() as unused:
        unused.bind(("127.0.0.1", 0))
        port = unused.getsockname()[1]
    error = failure(TwilioChannel(settings_for(f"http://127.0.0.1:{port}")))
    assert (error.permanent, error.code) == (False, "connection")


def test_no_phone_number_or_body_reaches_logs_or_error_reasons(fake, channel, caplog, capsys):
    caplog.set_level(logging.DEBUG)
    channel.send(sms())
    fake.script(TWILIO, twilio_error(400, 21211, f"The 'To' number {PHONE} is not valid: {BODY}"))
    error = failure(channel)
    captured = capsys.readouterr()
    for text in (caplog.text, captured.out, captured.err, str(error), error.reason):
        assert PHONE not in text and BODY not in text
    assert caplog.records  # the SDK did log (at INFO), just nothing personal
