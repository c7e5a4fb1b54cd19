"""A packed send task: one batch, set-based database work, concurrent provider calls.

Runs on SQLite and on the real PostgreSQL, with the real Twilio SDK against our fake server.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from pathlib import Path

from engage.delivery.claim import claim_due
from engage.store import Consent, MessageEvent, MessageState, Patient
from tests.delivery_kit import Kit, build_kit, provider_channels, provider_settings
from tests.fakes.provider_server import TWILIO, ProviderServer, Reply, hang, twilio_error

S = MessageState


def queue_due(kit: Kit) -> list[int]:
    """Claim what is due, as the dispatcher would, without sending it."""
    with kit.sessions.begin() as session:
        return [c.id for c in claim_due(session, kit.clock(), 1000)]


def wire_ids(fake: ProviderServer) -> list[int]:
    """Our message id of every request the fake Twilio saw, from its StatusCallback URL."""
    return [int(r.form()["StatusCallback"].rsplit("/", 1)[1]) for r in fake.requests_to(TWILIO)]


def test_a_batch_reports_each_message_outcome_in_the_order_asked(
    kit: Kit, fake: ProviderServer
) -> None:
    already = kit.message(kit.patient())
    kit.run_due()  # sent on its own: a redelivered batch must skip it
    stopped = kit.patient(email=False)
    withheld = kit.message(stopped)
    with kit.sessions.begin() as s:
        s.query(Consent).filter_by(patient_id=stopped, channel="sms").update({"granted": False})
    fresh = [kit.message(kit.patient()) for _ in range(3)]
    queue_due(kit)
    fake.script(TWILIO, twilio_error(400, 21211))  # whichever request arrives first

    outcomes = kit.sender.send_many([already, withheld, *fresh])

    assert outcomes[:2] == ["skipped: sent", "suppress"]
    calls = wire_ids(fake)
    assert calls[0] == already and sorted(calls[1:]) == sorted(fresh)  # one call each
    rejected = calls[1]  # the first of the batch to reach the fake got the 21211
    for message_id, outcome in zip(fresh, outcomes[2:], strict=True):
        message = kit.get(message_id)
        if message_id == rejected:
            assert (outcome, message.state, message.last_error_code) == (
                "failed",
                S.FAILED,
                "21211",
            )
        else:
            assert (outcome, message.state) == ("sent", S.SENT)
            assert message.provider == "twilio" and message.provider_id
    assert kit.get(withheld).state == S.SUPPRESSED
    with kit.sessions() as s:
        trail = [
            (e.from_state, e.to_state)
            for e in s.query(MessageEvent).filter_by(message_id=fresh[2]).order_by(MessageEvent.id)
        ]
    assert trail[:2] == [("scheduled", "queued"), ("queued", "sending")] and len(trail) == 3


def test_each_message_gets_its_own_provider_id(kit: Kit, fake: ProviderServer) -> None:
    ids = [kit.message(kit.patient()) for _ in range(12)]
    queue_due(kit)
    # The n-th request to arrive is answered with sid n, so every pairing can be checked.
    sids = [f"SM{n:032x}" for n in range(12)]
    fake.script(
        TWILIO, *(Reply(201, {"sid": sid}, {"Content-Type": "application/json"}) for sid in sids)
    )
    assert kit.sender.send_many(ids) == ["sent"] * 12
    answered = dict(zip(wire_ids(fake), sids, strict=True))  # message id -> the sid it got
    assert {i: kit.get(i).provider_id for i in ids} == answered
    for request in fake.requests_to(TWILIO):
        message_id = int(request.form()["StatusCallback"].rsplit("/", 1)[1])
        assert request.form()["To"] == _phone_of(kit, message_id)


def test_overlapping_batches_send_each_message_once(kit: Kit, fake: ProviderServer) -> None:
    ids = [kit.message(kit.patient()) for _ in range(30)]
    queue_due(kit)
    orders = [ids, ids[::-1], ids[10:] + ids[:10]]  # a redelivered task racing the original
    results: list[list[str]] = []
    threads = [
        threading.Thread(target=lambda o=o: results.append(kit.sender.send_many(o))) for o in orders
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert sorted(wire_ids(fake)) == sorted(ids)  # exactly once on the wire
    assert all(kit.get(i).state == S.SENT for i in ids)
    outcomes = [outcome for batch in results for outcome in batch]
    assert outcomes.count("sent") == 30 and len(outcomes) == 90


def test_a_hanging_call_does_not_hold_back_the_other_receipts(
    kit: Kit, fake: ProviderServer
) -> None:
    ids = [kit.message(kit.patient()) for _ in range(5)]
    queue_due(kit)
    fake.script(TWILIO, hang(10))  # longer than the client's 2 s timeout
    outcomes: list[str] = []
    batch = threading.Thread(target=lambda: outcomes.extend(kit.sender.send_many(ids)))
    batch.start()
    deadline = time.monotonic() + 1.5
    while time.monotonic() < deadline:
        states = [kit.get(i).state for i in ids]
        if states.count(S.SENT) == 4:
            break
        time.sleep(0.05)
    # Four provider ids are stored while the fifth call is still out, not after it.
    assert batch.is_alive() and states.count(S.SENT) == 4 and states.count(S.SENDING) == 1
    batch.join(10)
    assert sorted(outcomes) == ["sent", "sent", "sent", "sent", "uncertain"]
    # The request went out and no answer came: not resent blindly, settled later.
    [timed_out] = [kit.get(i) for i in ids if kit.get(i).state == S.UNCERTAIN]
    assert timed_out.last_error_code == "timeout" and timed_out.attempts == 1


def _phone_of(kit: Kit, message_id: int) -> str:
    with kit.sessions() as s:
        return s.get_one(Patient, kit.get(message_id).patient_id).phone or ""


def test_an_unexpected_failure_of_one_call_does_not_orphan_the_batch(
    kit: Kit, fake: ProviderServer
) -> None:
    ids = [kit.message(kit.patient()) for _ in range(4)]
    queue_due(kit)
    # A 201 the SDK cannot parse: not a DeliveryError, an exception nobody classified.
    fake.script(TWILIO, Reply(201, b"<html>proxy page</html>", {"Content-Type": "text/html"}))
    outcomes = kit.sender.send_many(ids)
    assert sorted(outcomes) == ["retry", "sent", "sent", "sent"]
    states = [kit.get(i).state for i in ids]
    assert states.count(S.SENT) == 3 and states.count(S.SCHEDULED) == 1  # none left `sending`
    [again] = [kit.get(i) for i in ids if kit.get(i).state == S.SCHEDULED]
    assert again.last_error_code == "error" and "unexpected" in again.reason


def test_receipts_survive_a_database_blip(tmp_path: Path, fake: ProviderServer) -> None:
    """The provider accepted; our commit fails once: retrying it avoids a resend later."""
    path = tmp_path / "engage.db"
    kit = build_kit(
        f"sqlite:///{path}", tmp_path / "templates", provider_channels(provider_settings(fake.url))
    )
    ids = [kit.message(kit.patient()) for _ in range(3)]
    queue_due(kit)
    fake.script(TWILIO, *[hang(1.0)] * 3)  # accepted after 1 s, within the 2 s client timeout
    outcomes: list[str] = []
    batch = threading.Thread(target=lambda: outcomes.extend(kit.sender.send_many(ids)))
    batch.start()
    while any(kit.get(i).state != S.SENDING for i in ids):
        time.sleep(0.01)
    blocker = sqlite3.connect(path, isolation_level=None)
    blocker.execute("BEGIN EXCLUSIVE")  # outlasts the 5 s busy timeout of the first attempt
    time.sleep(8.0)  # the receipts arrive after 1 s, then wait 5 s and fail once
    blocker.execute("ROLLBACK")
    blocker.close()
    batch.join(30)
    assert outcomes == ["sent"] * 3
    assert all(kit.get(i).state == S.SENT and kit.get(i).provider_id for i in ids)
