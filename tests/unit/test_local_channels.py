"""The file and console channels: first-class channels for embedded mode and demos."""

from __future__ import annotations

import io
import json
import os

import pytest

from engage.channels.base import Attachment, Outgoing
from engage.channels.console import ConsoleChannel
from engage.channels.file import FileChannel
from engage.errors import DeliveryError

PHONE = "+15558675310"
EMAIL = "patient@example.com"


def sms(message_id: int = 7, body: str = "Your infusion is tomorrow at 09:00.") -> Outgoing:
    return Outgoing(message_id, "sms", PHONE, body)


def email(message_id: int = 8) -> Outgoing:
    return Outgoing(
        message_id,
        "email",
        EMAIL,
        "Plain part",
        subject="Your visit",
        html="<p>HTML part</p>",
        attachments=(Attachment("visit.ics", "text/calendar", b"BEGIN:VCALENDAR"),),
        unsubscribe_url="https://clinic.example/u/abc",
    )


def test_the_file_channel_writes_the_whole_message_as_json_named_by_its_id(tmp_path):
    receipt = FileChannel(tmp_path).send(email())
    written = json.loads((tmp_path / "8.json").read_text())
    assert receipt.provider == "file" and receipt.provider_id == "file-8"
    assert written["to"] == EMAIL
    assert (written["subject"], written["body"], written["html"]) == (
        "Your visit",
        "Plain part",
        "<p>HTML part</p>",
    )
    assert written["unsubscribe_url"] == "https://clinic.example/u/abc"
    assert written["attachments"] == [
        {
            "filename": "visit.ics",
            "content_type": "text/calendar",
            "content_base64": "QkVHSU46VkNBTEVOREFS",
        }
    ]


def test_sending_the_same_message_again_replaces_its_file_and_leaves_no_temp_files(tmp_path):
    channel = FileChannel(tmp_path / "outbox")
    channel.send(sms(body="first"))
    channel.send(sms(body="second"))
    assert os.listdir(tmp_path / "outbox") == ["7.json"]
    assert json.loads((tmp_path / "outbox" / "7.json").read_text())["body"] == "second"


def test_an_unwritable_outbox_is_a_retryable_delivery_error(tmp_path):
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("a file where the outbox directory should be")
    with pytest.raises(DeliveryError) as caught:
        FileChannel(blocker).send(sms())
    assert not caught.value.permanent and caught.value.code == "io"
    assert PHONE not in str(caught.value)


def test_the_console_channel_prints_one_line_with_id_and_segments_only():
    out = io.StringIO()
    receipt = ConsoleChannel(out).send(sms(body="x" * 170))
    assert out.getvalue() == "message 7 sms 2 segments (GSM-7, 170 units)\n"
    assert receipt.provider == "console" and receipt.provider_id == "console-7"


def test_the_console_channel_never_prints_an_address_or_a_body():
    out = io.StringIO()
    console = ConsoleChannel(out)
    console.send(sms())
    console.send(email())
    printed = out.getvalue()
    for secret in (PHONE, EMAIL, "infusion", "Plain part", "HTML part", "Your visit"):
        assert secret not in printed
    assert "message 8 email" in printed and "1 attachment" in printed
