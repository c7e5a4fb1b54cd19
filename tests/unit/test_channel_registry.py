"""Which channel carries SMS and email, from the settings alone."""

from __future__ import annotations

from typing import Any

import pytest

from engage.channels.file import FileChannel
from engage.channels.registry import build_channels
from engage.channels.sendgrid import SendGridChannel
from engage.channels.twilio import TwilioChannel
from engage.errors import ConfigError
from engage.settings import Settings

TWILIO: dict[str, Any] = {
    "twilio_account_sid": "AC" + "0" * 32,
    "twilio_auth_token": "t",
    "twilio_from": "+15017122661",
}
SENDGRID: dict[str, Any] = {"sendgrid_api_key": "SG.key", "sendgrid_from": "clinic@example.org"}


def test_without_credentials_both_kinds_go_to_the_outbox_files(tmp_path):
    channels = build_channels(Settings(outbox_dir=tmp_path))
    assert isinstance(channels["sms"], FileChannel) and isinstance(channels["email"], FileChannel)
    assert channels["sms"].outbox_dir == tmp_path


def test_twilio_credentials_route_sms_to_twilio_and_leave_email_on_file():
    channels = build_channels(Settings(**TWILIO))
    assert isinstance(channels["sms"], TwilioChannel)
    assert isinstance(channels["email"], FileChannel)


def test_a_sendgrid_key_routes_email_to_sendgrid():
    channels = build_channels(Settings(**TWILIO, **SENDGRID))
    assert isinstance(channels["sms"], TwilioChannel)
    assert isinstance(channels["email"], SendGridChannel)
    assert set(channels) == {"sms", "email"}


def test_twilio_without_a_sender_fails_naming_both_variables():
    with pytest.raises(
        ConfigError, match="ENGAGE_TWILIO_MESSAGING_SERVICE_SID or ENGAGE_TWILIO_FROM"
    ):
        build_channels(Settings(**{**TWILIO, "twilio_from": ""}))


def test_sendgrid_without_a_from_address_fails_naming_the_variable():
    with pytest.raises(ConfigError, match="ENGAGE_SENDGRID_FROM"):
        build_channels(Settings(sendgrid_api_key="SG.key"))
