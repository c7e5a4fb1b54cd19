"""The outbox dispatcher: every tick, claim what is due and hand it to the send queues.

Far-future messages stay in the database; only due ones ever reach the broker. The claim commits
before the tasks are published, so a dispatcher that dies in between leaves `queued` rows that
`recover` gives back after a timeout: a message is never lost, and the send task's conditional
`queued -> sending` update makes any duplicate task harmless.

Backpressure: at most `max_in_flight` messages are `queued` (claimed, waiting on the broker) at
once. A backlog waits in the database, ordered by due time, and the broker holds only what the
workers drain soon; otherwise rows of a long backlog would sit `queued` past `stuck_after`, and
recovery would hand them back to be claimed and enqueued a second time.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from engage.delivery.claim import Claimed, claim_due, recover_stuck
from engage.delivery.retry import SettleWaits
from engage.logs import get_logger
from engage.store.messages import Message, MessageState

log = get_logger("engage.dispatcher")
RECOVER_EVERY = 5.0  # seconds between looks for lapsed leases and lost tasks
MAX_BATCHES_PER_TICK = 50  # bounds one tick so recovery and shutdown still get their turn


@dataclass
class Dispatcher:
    sessions: sessionmaker[Session]
    enqueue: Callable[[list[Claimed]], None]
    batch_size: int = 500
    stuck_after: timedelta = timedelta(minutes=5)
    max_in_flight: int = 5000
    # A row recovered from a dead worker waits this long before a worker asks the provider.
    settle: SettleWaits = field(default_factory=SettleWaits)
    clock: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))
    on_tick: Callable[[], None] = field(default=lambda: None)  # liveness signal for operators

    def tick(self) -> int:
        """Claim and enqueue what is due, keeping at most `max_in_flight` queued; return how many.

        The room is counted again in each batch's transaction. Dispatchers ticking at the same
        moment cannot see each other's uncommitted batch, so together they may overshoot the
        limit by up to one batch per extra dispatcher: harmless, it only bounds the broker.
        """
        total = 0
        room = self.max_in_flight
        for _ in range(MAX_BATCHES_PER_TICK):
            with self.sessions.begin() as session:
                room = self.max_in_flight - _queued(session)
                want = min(self.batch_size, room)
                claimed = claim_due(session, self.clock(), want) if want > 0 else []
            if claimed:
                self.enqueue(claimed)
                total += len(claimed)
            if want <= 0 or len(claimed) < want:
                break
        if room <= 0:
            log.info(
                "dispatch.throttled",
                enqueued=total,
                queued=self.max_in_flight - room,
                max_in_flight=self.max_in_flight,
            )
        elif total:
            log.info("dispatch.tick", enqueued=total)
        return total

    def recover(self) -> dict[str, int]:
        with self.sessions.begin() as session:
            counts = recover_stuck(session, self.clock(), self.stuck_after, self.settle)
        if any(counts.values()):
            log.warning("dispatch.recovered", **counts)
        return counts

    def run(self, interval: float, stop: threading.Event) -> None:
        """Tick every `interval` seconds until `stop` is set; look for stuck rows regularly."""
        # Often enough that a dead worker's lapsed leases are back within a tick or two of lapsing.
        recovery_period = min(RECOVER_EVERY, self.stuck_after.total_seconds() / 2)
        last_recovery = 0.0
        while not stop.is_set():
            started = self.clock().timestamp()
            try:
                if started - last_recovery >= recovery_period:
                    self.recover()
                    last_recovery = started
                self.tick()
                self.on_tick()
            except Exception:  # a database blip must not kill the loop; it is retried next tick
                log.exception("dispatch.error")
            elapsed = self.clock().timestamp() - started
            stop.wait(max(0.0, interval - elapsed))


def _queued(session: Session) -> int:
    """Messages claimed and not yet picked up by a worker (an index range on (state, due_at))."""
    count = select(func.count()).select_from(Message).where(Message.state == MessageState.QUEUED)
    return session.execute(count).scalar_one()
