"""The outbox dispatcher: every tick, claim what is due and hand it to the send queues.

Far-future messages stay in the database; only due ones ever reach the broker. The claim commits
before the tasks are published, so a dispatcher that dies in between leaves `queued` rows that
`recover` gives back after a timeout: a message is never lost, and the send task's conditional
`queued -> sending` update makes any duplicate task harmless.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from sqlalchemy.orm import Session, sessionmaker

from engage.delivery.claim import Claimed, claim_due, recover_stuck
from engage.logs import get_logger

log = get_logger("engage.dispatcher")
MAX_BATCHES_PER_TICK = 50  # bounds one tick so recovery and shutdown still get their turn


@dataclass
class Dispatcher:
    sessions: sessionmaker[Session]
    enqueue: Callable[[list[Claimed]], None]
    batch_size: int = 500
    stuck_after: timedelta = timedelta(minutes=5)
    clock: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))
    on_tick: Callable[[], None] = field(default=lambda: None)  # liveness signal for operators

    def tick(self) -> int:
        """Claim and enqueue every message due now; return how many."""
        total = 0
        for _ in range(MAX_BATCHES_PER_TICK):
            with self.sessions.begin() as session:
                claimed = claim_due(session, self.clock(), self.batch_size)
            if claimed:
                self.enqueue(claimed)
                total += len(claimed)
            if len(claimed) < self.batch_size:
                break
        if total:
            log.info("dispatch.tick", enqueued=total)
        return total

    def recover(self) -> dict[str, int]:
        with self.sessions.begin() as session:
            counts = recover_stuck(session, self.clock(), self.stuck_after)
        if any(counts.values()):
            log.warning("dispatch.recovered", **counts)
        return counts

    def run(self, interval: float, stop: threading.Event) -> None:
        """Tick every `interval` seconds until `stop` is set; look for stuck rows regularly."""
        recovery_period = min(60.0, self.stuck_after.total_seconds() / 2)
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
