"""The dispatcher keeps at most `max_in_flight` messages `queued`; the backlog waits in the database.

Runs on SQLite and on the real PostgreSQL. Tasks are recorded, not run, so claimed messages stay
`queued` exactly as they do while they wait on the broker.
"""

from __future__ import annotations

import io
import json
import threading
from collections import Counter
from datetime import UTC, datetime

import sqlalchemy as sa
from sqlalchemy.orm import Session, sessionmaker

from engage.delivery.claim import Claimed
from engage.delivery.dispatcher import Dispatcher
from engage.store import Message, MessageState
from tests.outbox_fill import fill

S = MessageState
DUE = datetime(2027, 3, 10, 16, 0, tzinfo=UTC)
LATER = datetime(2027, 3, 10, 17, 0, tzinfo=UTC)  # every filled message is due by then


class Broker:
    """Stands in for the send queues: remembers every enqueued id, in order (thread-safe)."""

    def __init__(self) -> None:
        self.ids: list[int] = []
        self._lock = threading.Lock()

    def enqueue(self, claimed: list[Claimed]) -> None:
        with self._lock:
            self.ids += [c.id for c in claimed]


def dispatcher(sessions: sessionmaker[Session], broker: Broker, limit: int) -> Dispatcher:
    return Dispatcher(
        sessions, broker.enqueue, batch_size=100, max_in_flight=limit, clock=lambda: LATER
    )


def states(sessions: sessionmaker[Session]) -> Counter[str]:
    with sessions() as s:
        rows = s.execute(sa.select(Message.state, sa.func.count()).group_by(Message.state)).all()
    return Counter({str(state): n for state, n in rows})


def send_some(sessions: sessionmaker[Session], count: int) -> None:
    """Workers took `count` queued messages and sent them."""
    with sessions.begin() as s:
        ids = s.scalars(
            sa.select(Message.id).where(Message.state == S.QUEUED).order_by(Message.id).limit(count)
        ).all()
        s.execute(sa.update(Message).where(Message.id.in_(ids)).values(state=S.SENT))


def events(stream: io.StringIO, name: str) -> list[dict[str, object]]:
    lines = [json.loads(line) for line in stream.getvalue().splitlines() if line.startswith("{")]
    return [line for line in lines if line.get("event") == name]


def test_one_tick_queues_exactly_the_limit_and_leaves_the_rest_scheduled(
    sessions: sessionmaker[Session],
) -> None:
    ids = sorted(fill(sessions, 1000, due=DUE, spread=1.0))  # ids grow with due time
    broker = Broker()
    assert dispatcher(sessions, broker, 250).tick() == 250
    assert states(sessions) == {"queued": 250, "scheduled": 750}
    assert broker.ids == ids[:250], "the earliest due go first"


def test_next_tick_tops_up_to_the_limit_as_workers_drain(sessions: sessionmaker[Session]) -> None:
    ids = sorted(fill(sessions, 1000, due=DUE, spread=1.0))  # ids grow with due time
    broker = Broker()
    dispatch = dispatcher(sessions, broker, 250)
    dispatch.tick()
    assert dispatch.tick() == 0, "nothing moved on: no room"
    send_some(sessions, 130)
    assert dispatch.tick() == 130
    assert states(sessions) == {"queued": 250, "sent": 130, "scheduled": 620}
    assert broker.ids == ids[:380]


def test_backlog_smaller_than_the_room_is_claimed_whole(sessions: sessionmaker[Session]) -> None:
    fill(sessions, 180, due=DUE)
    assert dispatcher(sessions, Broker(), 250).tick() == 180
    assert states(sessions) == {"queued": 180}


def test_a_throttled_tick_logs_one_line(
    sessions: sessionmaker[Session], stderr: io.StringIO
) -> None:
    fill(sessions, 1000, due=DUE)
    dispatch = dispatcher(sessions, Broker(), 250)
    dispatch.tick()
    dispatch.tick()
    throttled = events(stderr, "dispatch.throttled")
    assert [(e["enqueued"], e["queued"], e["max_in_flight"]) for e in throttled] == [
        (250, 250, 250),
        (0, 250, 250),
    ]
    assert events(stderr, "dispatch.tick") == []


def test_two_dispatchers_together_overshoot_by_at_most_one_batch(
    sessions: sessionmaker[Session],
) -> None:
    fill(sessions, 3000, due=DUE)
    broker, limit, batch = Broker(), 250, 100
    dispatchers = [dispatcher(sessions, broker, limit) for _ in range(2)]
    start = threading.Barrier(len(dispatchers))
    errors: list[BaseException] = []

    def tick(d: Dispatcher) -> None:
        try:
            start.wait(timeout=30)
            d.tick()
        except BaseException as exc:  # surfaced below; a thread cannot fail the test itself
            errors.append(exc)

    peaks = []
    for _ in range(8):
        threads = [threading.Thread(target=tick, args=(d,)) for d in dispatchers]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=60)
        assert not errors, errors
        peaks.append(states(sessions)["queued"])
        send_some(sessions, 120)
    assert max(peaks) <= limit + batch, peaks
    assert min(peaks) >= limit, f"each round tops up to the limit: {peaks}"
    assert len(broker.ids) == len(set(broker.ids)), "no message claimed twice"
