"""Oversized requests are refused before anything reads or parses them (issue 14 item 1)."""

from __future__ import annotations

import itertools
import time
from concurrent.futures import ThreadPoolExecutor

from tests.abuse.asgi_drive import drive, megabytes
from tests.api_kit import Api

MIB = 1024 * 1024


def test_a_20000_digit_signature_settings_header_is_431_at_once(api: Api) -> None:
    # Before: 403 after 12.4 s (quadratic redaction on the event loop); /health waited 12.2 s.
    header = {"X-Twilio-Webhooks-Signature-Settings": "algorithm=" + "1" * 20_000}
    with ThreadPoolExecutor(2) as pool:
        started = time.perf_counter()
        hostile = pool.submit(api.client.post, "/webhooks/twilio/sms", headers=header)
        health = pool.submit(api.client.get, "/health")
        assert health.result().status_code == 200
        answer = hostile.result()
    assert answer.status_code == 431
    assert "X-Twilio-Webhooks-Signature-Settings".lower() in answer.json()["detail"].lower()
    assert time.perf_counter() - started < 5.0


def test_70_kb_of_headers_in_all_is_431(api: Api) -> None:
    headers = {f"X-Pad-{i}": "p" * 7000 for i in range(10)}
    assert api.client.get("/health", headers=headers).status_code == 431


def test_an_unsigned_200_mb_sendgrid_post_is_413_unread(api: Api) -> None:
    # Before: the body was read (135 -> 981 MB of server memory) and then refused with 403.
    answer = drive(
        api.app,
        "POST",
        "/webhooks/sendgrid/events",
        headers={"content-type": "application/json", "content-length": str(200 * MIB)},
        chunks=megabytes(200),
    )
    assert answer.status == 413
    assert answer.read == 0


def test_a_200_mb_body_without_a_length_is_cut_off_at_the_routes_limit(api: Api) -> None:
    answer = drive(
        api.app,
        "POST",
        "/webhooks/sendgrid/events",
        headers={"content-type": "application/json", "transfer-encoding": "chunked"},
        chunks=megabytes(200),
    )
    assert answer.status == 413
    assert answer.read <= 5 * MIB  # the SendGrid limit (4 MiB) and one chunk


def test_200_mb_to_patients_without_a_token_is_413_unread(api: Api) -> None:
    # Before: 604 MB of server memory, then 401.
    answer = drive(
        api.app,
        "POST",
        "/patients",
        headers={"content-type": "application/json", "content-length": str(200 * MIB)},
        chunks=megabytes(200),
    )
    assert answer.status == 413 and answer.read == 0


def test_a_300_mb_multipart_upload_is_refused_before_it_spools(api: Api) -> None:
    # Before: spooled to disk, then 401/403.
    head = (
        b'--x\r\nContent-Disposition: form-data; name="file"; filename="p.csv"\r\n'
        b"Content-Type: text/csv\r\n\r\n"
    )
    answer = drive(
        api.app,
        "POST",
        "/imports/patients",
        headers={"content-type": "multipart/form-data; boundary=x", "transfer-encoding": "chunked"},
        chunks=itertools.chain([head], megabytes(300)),
    )
    assert answer.status == 413
    assert answer.read <= 17 * MIB


def test_a_twilio_form_over_64_kib_is_413(api: Api) -> None:
    answer = api.client.post(
        "/webhooks/twilio/sms", data={"Body": "x" * 70_000}, headers={"X-Twilio-Signature": "x"}
    )
    assert answer.status_code == 413


def test_a_real_sendgrid_batch_of_a_thousand_events_still_fits(api: Api) -> None:
    events = [
        {
            "event": "delivered",
            "sg_event_id": f"ev{i}",
            "engage_message_id": "999999",
            "x": "y" * 300,
        }
        for i in range(1000)
    ]
    answer = api.sendgrid(events)
    assert answer.status_code == 200, answer.text
    assert answer.json()["received"] == 1000
