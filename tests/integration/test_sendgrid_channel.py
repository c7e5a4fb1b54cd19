"""The real SendGrid SDK, through our channel, against our fake provider server."""

from __future__ import annotations

import base64
import logging
import socket
import time

import pytest

from engage.channels.base import Attachment, Outgoing
from engage.channels.sendgrid import (
    MESSAGE_ID_ARG,
    PERMANENT_STATUSES,
    RETRYABLE_STATUSES,
    SendGridChannel,
)
from engage.errors import DeliveryError
from engage.settings import Settings
from tests.fakes.provider_server import SENDGRID, ProviderServer, Reply, hang, sendgrid_error

EMAIL = "patient@example.com"
BODY = "Your infusion is tomorrow at 09:00."
HTML = "<p>Your infusion is <b>tomorrow</b> at 09:00.</p>"
UNSUBSCRIBE = "https://engage.clinic.example/unsubscribe/t0ken"
TIMEOUT = 0.5


@pytest.fixture
def fake():
    with ProviderServer() as server:
        yield server


def settings_for(url: str) -> Settings:
    return Settings(
        sendgrid_api_key="SG.test-key",
        sendgrid_from="clinic@example.org",
        sendgrid_base_url=url,
        send_timeout_seconds=TIMEOUT,
    )


@pytest.fixture
def channel(fake):
    return SendGridChannel(settings_for(fake.url))


def email(message_id: int = 52, **fields) -> Outgoing:
    values = {"subject": "Tomorrow's visit", "html": HTML, "unsubscribe_url": UNSUBSCRIBE, **fields}
    return Outgoing(message_id, "email", EMAIL, BODY, **values)


def failure(channel: SendGridChannel, message: Outgoing | None = None) -> DeliveryError:
    with pytest.raises(DeliveryError) as caught:
        channel.send(message or email())
    return caught.value


def test_a_send_posts_plain_text_and_html_parts_and_returns_the_x_message_id(fake, channel):
    fake.script(SENDGRID, Reply(202, headers={"X-Message-Id": "Fx3QzYk8RxKZ6b2Q"}))
    receipt = channel.send(email())
    [request] = fake.requests_to(SENDGRID)
    sent = request.json()
    assert request.path == "/v3/mail/send"
    assert request.header("Authorization") == "Bearer SG.test-key"
    assert sent["from"] == {"email": "clinic@example.org"}
    assert sent["subject"] == "Tomorrow's visit"
    assert sent["content"] == [
        {"type": "text/plain", "value": BODY},
        {"type": "text/html", "value": HTML},
    ]
    assert (receipt.provider, receipt.provider_id) == ("sendgrid", "Fx3QzYk8RxKZ6b2Q")


def test_our_message_id_travels_as_a_custom_arg_of_the_personalization(fake, channel):
    channel.send(email(52))
    sent = fake.requests_to(SENDGRID)[0].json()
    assert sent["personalizations"] == [
        {"to": [{"email": EMAIL}], "custom_args": {MESSAGE_ID_ARG: "52"}}
    ]
    assert "custom_args" not in sent  # the spec mistypes the top-level one


def test_one_click_unsubscribe_headers_are_set(fake, channel):
    channel.send(email())
    headers = fake.requests_to(SENDGRID)[0].json()["headers"]
    assert headers == {
        "List-Unsubscribe": f"<{UNSUBSCRIBE}>",
        "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
    }


def test_without_an_unsubscribe_url_no_list_headers_are_sent(fake, channel):
    channel.send(email(unsubscribe_url=""))
    assert "headers" not in fake.requests_to(SENDGRID)[0].json()


def test_a_plain_text_only_message_has_one_part(fake, channel):
    channel.send(email(html=""))
    assert fake.requests_to(SENDGRID)[0].json()["content"] == [
        {"type": "text/plain", "value": BODY}
    ]


def test_attachments_are_sent_base64_encoded(fake, channel):
    ics = b"BEGIN:VCALENDAR\r\nEND:VCALENDAR\r\n"
    channel.send(email(attachments=(Attachment("visit.ics", "text/calendar", ics),)))
    [attachment] = fake.requests_to(SENDGRID)[0].json()["attachments"]
    assert attachment == {
        "content": base64.b64encode(ics).decode(),
        "filename": "visit.ics",
        "type": "text/calendar",
        "disposition": "attachment",
    }


@pytest.mark.parametrize("status", sorted(PERMANENT_STATUSES))
def test_every_permanent_status_is_a_permanent_error(fake, channel, status):
    fake.script(SENDGRID, sendgrid_error(status))
    error = failure(channel)
    assert (error.permanent, error.code, error.retry_after) == (True, str(status), None)
    assert PERMANENT_STATUSES[status] in error.reason


@pytest.mark.parametrize("status", sorted(RETRYABLE_STATUSES))
def test_every_retryable_status_is_a_transient_error(fake, channel, status):
    fake.script(SENDGRID, sendgrid_error(status))
    error = failure(channel)
    assert (error.permanent, error.code) == (False, str(status))


def test_an_unlisted_4xx_is_permanent_and_an_unlisted_5xx_transient(fake, channel):
    fake.script(SENDGRID, sendgrid_error(422), sendgrid_error(507))
    assert [(e.permanent, e.code) for e in (failure(channel), failure(channel))] == [
        (True, "422"),
        (False, "507"),
    ]


def test_429_honours_retry_after(fake, channel):
    fake.script(SENDGRID, sendgrid_error(429, Retry_After="12"))
    assert failure(channel).retry_after == 12.0


def test_429_without_retry_after_honours_the_rate_limit_reset_time(fake, channel):
    fake.script(SENDGRID, sendgrid_error(429, X_RateLimit_Reset=str(int(time.time()) + 20)))
    assert failure(channel).retry_after == pytest.approx(20, abs=1.5)


def test_a_500_storm_is_transient_every_time_then_a_send_succeeds(fake, channel):
    fake.script(SENDGRID, *[Reply(500, "oops")] * 3)
    assert [failure(channel).permanent for _ in range(3)] == [False] * 3
    assert channel.send(email()).provider_id
    assert len(fake.requests_to(SENDGRID)) == 4


def test_a_reply_slower_than_the_timeout_is_a_transient_timeout(fake, channel):
    fake.script(SENDGRID, hang(TIMEOUT * 4))
    started = time.monotonic()
    error = failure(channel)
    assert (error.permanent, error.code) == (False, "timeout")
    assert time.monotonic() - started < TIMEOUT * 3


def test_a_refused_connection_is_transient():
    with socket.socket() as unused:
        unused.bind(("127.0.0.1", 0))
        port = unused.getsockname()[1]
    error = failure(SendGridChannel(settings_for(f"http://127.0.0.1:{port}")))
    assert (error.permanent, error.code) == (False, "connection")


def test_an_address_the_sdk_cannot_parse_is_permanent_and_never_sent(fake, channel):
    error = failure(channel, Outgoing(53, "email", "+15558675310", BODY))
    assert (error.permanent, error.code) == (True, "invalid")
    assert fake.requests_to(SENDGRID) == []


def test_no_address_or_body_reaches_logs_or_error_reasons(fake, channel, caplog, capsys):
    caplog.set_level(logging.DEBUG)
    channel.send(email())
    fake.script(SENDGRID, sendgrid_error(400, f"invalid recipient {EMAIL}"))
    error = failure(channel)
    captured = capsys.readouterr()
    for text in (caplog.text, captured.out, captured.err, str(error)):
        assert EMAIL not in text and BODY not in text and "infusion" not in text


def test_emails_reuse_their_connection_instead_of_closing_it(fake, channel):
    """The SDK's default urllib path sends `Connection: close` and reconnects per email."""
    for message_id in (1, 2, 3):
        channel.send(email(message_id))
    sent = fake.requests_to(SENDGRID)
    assert len(sent) == 3
    assert all(
        {k.lower(): v for k, v in r.headers.items()}.get("connection", "").lower() != "close"
        for r in sent
    )
