"""A message is `sending` only while a live worker holds it, and the gate's time checks run at
the call: a rate limit far below the drain rate makes a batch wait for its grants, and neither
recovery nor quiet hours may be fooled by that wait (issue 11 item 1)."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from engage.delivery.lease import LeaseKeeper
from engage.delivery.ratelimit import LocalRateLimiter
from engage.delivery.sender import Sender
from engage.store import Message, MessageState
from engage.store.message_states import transition
from tests.delivery_kit import Clock, Kit, build_kit, provider_channels, provider_settings
from tests.fakes.provider_server import ProviderServer

S = MessageState
ONE_PER_MINUTE = 1 / 60
# 20:59:30 in New York (EST): the second grant of a one-a-minute limit lands in quiet hours.
BEFORE_QUIET = datetime(2027, 3, 11, 1, 59, 30, tzinfo=UTC)


class SlowGrants:
    """Our local GCRA limiter at one SMS a minute, its sleeps moving the test clock instead."""

    def __init__(self, clock: Clock, hold: threading.Event | None = None) -> None:
        self.clock = clock
        self.hold = hold
        self.waiting = threading.Event()
        self.monotonic = 0.0
        self.limiter = LocalRateLimiter(
            {"twilio": ONE_PER_MINUTE}, clock=lambda: self.monotonic, sleep=self._sleep
        )

    def _sleep(self, seconds: float) -> None:
        self.clock.advance(seconds=seconds)
        self.waiting.set()
        if self.hold is not None:
            self.hold.wait(10)
        self.monotonic += seconds


def _kit(db_url: str, tmp_path: Path, fake: ProviderServer, clock: Clock) -> Kit:
    return build_kit(
        db_url, tmp_path / "templates", provider_channels(provider_settings(fake.url)), clock=clock
    )


def _slow_sender(kit: Kit, grants: SlowGrants, lease: timedelta) -> Sender:
    old = kit.sender
    return Sender(
        sessions=old.sessions,
        schedule=old.schedule,
        env=old.env,
        channels=old.channels,
        limiter=grants.limiter,
        policy=old.policy,
        public_url=old.public_url,
        signing_secret=old.signing_secret,
        clock=kit.clock,
        lease=lease,
    )


def _queued(kit: Kit, count: int) -> list[int]:
    ids = [kit.message(kit.patient()) for _ in range(count)]
    with kit.sessions.begin() as s:
        for mid in ids:
            transition(s, s.get_one(Message, mid), S.QUEUED, "due", "dispatcher", at=kit.clock())
    return ids


def test_a_batch_waiting_for_its_grant_is_not_recovered_and_sent_twice(
    db_url: str, tmp_path: Path, fake: ProviderServer
) -> None:
    kit = _kit(db_url, tmp_path, fake, Clock())
    hold = threading.Event()
    grants = SlowGrants(kit.clock, hold)
    sender = _slow_sender(kit, grants, lease=timedelta(seconds=0.3))
    ids = _queued(kit, 2)
    worker = threading.Thread(target=sender.send_many, args=(ids,))
    worker.start()
    try:
        assert grants.waiting.wait(10)
        # The second call waits a minute for its grant; the clock says 6 minutes passed, past
        # any age-based "stuck" cutoff, but the live worker keeps renewing its lease.
        kit.clock.advance(minutes=6)
        threading.Event().wait(0.5)  # a few lease renewals (every 0.1 s)
        assert kit.dispatcher.recover() == {"queued": 0, "sending": 0}
    finally:
        hold.set()
        worker.join(10)
    kit.run_due()
    assert [kit.get(i).state for i in ids] == [S.SENT, S.SENT]
    assert len(fake.requests_to("twilio")) == 2


def test_a_lapsed_lease_is_recovered_without_waiting_for_the_stuck_timeout(kit: Kit) -> None:
    mid = _queued(kit, 1)[0]
    with kit.sessions.begin() as s:
        message = s.get_one(Message, mid)
        transition(
            s,
            message,
            S.SENDING,
            "sending",
            "worker",
            at=kit.clock(),
            holder="gone:1:dead",
            lease_until=kit.clock() + timedelta(seconds=30),
        )
    kit.clock.advance(seconds=31)  # far less than stuck_after (5 minutes)
    assert kit.dispatcher.recover() == {"queued": 0, "sending": 1}
    assert kit.get(mid).state == S.UNCERTAIN  # settled from the provider's records next


@pytest.mark.parametrize("lease_seconds", [30.0])
def test_a_grant_that_comes_in_quiet_hours_defers_instead_of_sending(
    db_url: str, tmp_path: Path, fake: ProviderServer, lease_seconds: float
) -> None:
    kit = _kit(db_url, tmp_path, fake, Clock(BEFORE_QUIET))
    grants = SlowGrants(kit.clock)
    sender = _slow_sender(kit, grants, lease=timedelta(seconds=lease_seconds))
    ids = _queued(kit, 2)
    outcomes = sender.send_many(ids)
    assert sorted(outcomes) == ["defer", "sent"]
    assert len(fake.requests_to("twilio")) == 1
    deferred = kit.get(ids[outcomes.index("defer")])
    assert deferred.state == S.SCHEDULED and "quiet" in deferred.reason
    # 08:00 the next morning in New York (EST, UTC-5).
    assert deferred.due_at == datetime(2027, 3, 11, 13, 0, tzinfo=UTC)


def test_rows_a_dead_worker_took_but_never_marked_sending_are_back_within_a_lease(
    kit: Kit, fake: ProviderServer
) -> None:
    # What a worker killed while preparing its batch leaves: its task taken (the lease starts
    # with the task), nothing `sending` yet, and Redis keeps the task unacked for an hour.
    ids = _queued(kit, 3)
    dead = LeaseKeeper(kit.sessions, kit.clock, timedelta(seconds=30))
    assert dead.take(ids) == sorted(ids)
    kit.clock.advance(seconds=29)
    assert kit.dispatcher.recover() == {"queued": 0, "sending": 0}, "its lease still runs"
    # A duplicate of the task on a live worker leaves rows another lease holds alone.
    assert kit.sender.send_many(ids) == ["skipped: held by another worker"] * 3
    kit.clock.advance(seconds=2)  # far less than stuck_after (5 minutes)
    assert kit.dispatcher.recover() == {"queued": 3, "sending": 0}
    assert {kit.get(i).state for i in ids} == {S.SCHEDULED}
    kit.run_due()
    assert {kit.get(i).state for i in ids} == {S.SENT}
    assert len(fake.requests_to("twilio")) == 3, "each sent once"


def test_a_live_worker_keeps_the_rows_it_took_past_the_stuck_timeout(kit: Kit) -> None:
    ids = _queued(kit, 2)
    alive = LeaseKeeper(kit.sessions, kit.clock, timedelta(seconds=30))
    alive.take(ids)
    kit.clock.advance(minutes=6)  # past stuck_after: age alone would take them
    assert alive.renew() == 2
    assert kit.dispatcher.recover() == {"queued": 0, "sending": 0}
