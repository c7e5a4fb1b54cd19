"""Our fake provider, stopped, is down like a real one: for connections kept alive too.

The chaos tier's "provider down 75 s" stops the fake; before this, a stopped fake went on
answering (201) on every connection the SDK's pool kept alive, and recorded those sends where the
tier no longer looked: 147 of 200 messages counted lost that had been accepted.
"""

from __future__ import annotations

import contextlib
import threading

import pytest
import urllib3

from tests.fakes.provider_server import ProviderServer, hang

PATH = "/2010-04-01/Accounts/AC00000000000000000000000000000000/Messages.json"
FORM = {"Content-Type": "application/x-www-form-urlencoded"}


def test_a_stopped_fake_answers_nothing_on_a_kept_alive_connection() -> None:
    pool = urllib3.PoolManager(retries=False)
    fake = ProviderServer().start()
    url = fake.url + PATH
    assert pool.request("POST", url, body="To=%2B1&Body=a", headers=FORM).status == 201
    fake.stop()
    with pytest.raises(urllib3.exceptions.HTTPError):
        pool.request("POST", url, body="To=%2B1&Body=b", headers=FORM, timeout=2)
    assert len(fake.requests) == 1


def test_a_request_still_unanswered_when_the_fake_stops_is_not_counted() -> None:
    pool = urllib3.PoolManager(retries=False)
    fake = ProviderServer().start()
    fake.script("twilio", hang(5.0))
    failed: list[BaseException] = []

    def call() -> None:
        try:
            pool.request("POST", fake.url + PATH, body="To=%2B1&Body=a", headers=FORM, timeout=10)
        except urllib3.exceptions.HTTPError as exc:
            failed.append(exc)

    caller = threading.Thread(target=call)
    caller.start()
    while not fake.requests:
        threading.Event().wait(0.01)
    fake.stop()
    caller.join(10)
    assert failed and fake.requests == []


def test_a_fake_back_from_an_outage_lists_what_it_had_accepted_and_not_what_it_dropped() -> None:
    # Twilio keeps what it accepted while unreachable: a send whose answer the outage cut off is
    # settled from its Messages list. A fresh fake had forgotten it, and the send was repeated.
    pool = urllib3.PoolManager(retries=False)
    before = ProviderServer().start()
    url = before.url + PATH
    assert pool.request("POST", url, body="To=%2B1&Body=kept", headers=FORM).status == 201
    before.script("twilio", hang(5.0))
    caller = threading.Thread(
        target=lambda: _suppressed(pool, url, "To=%2B1&Body=dropped"), daemon=True
    )
    caller.start()
    while len(before.requests) < 2:
        threading.Event().wait(0.01)
    before.stop()
    caller.join(10)
    port = int(before.url.rsplit(":", 1)[1])
    with ProviderServer(port=port, remembering=before) as after:
        listed = pool.request("GET", after.url + PATH + "?To=%2B1", timeout=2).json()
    assert [m["body"] for m in listed["messages"]] == ["kept"]


def _suppressed(pool: urllib3.PoolManager, url: str, body: str) -> None:
    with contextlib.suppress(urllib3.exceptions.HTTPError):
        pool.request("POST", url, body=body, headers=FORM, timeout=10)
