"""A worker's lease on the messages it holds (`queued` in a task it started, then `sending`),
renewed while it lives.

A batch may wait in `sending` far longer than one provider round trip: behind a rate limit below
the drain rate, a worker's share of calls waits its turn for a grant. Age alone therefore cannot
tell a slow worker from a dead one, and recovery going by age sent such messages twice. Each row
carries its holder and `lease_until`; one thread per worker process pushes the leases of every
row it holds forward every third of a lease, and recovery (claim.recover_stuck) takes only rows
whose lease ran out: a worker killed mid-batch gives its rows back within one lease.

The lease starts when a task starts, before its batch is read, decided and rendered (a second
or more under load): Redis keeps a dead worker's unacked tasks for the visibility timeout (an
hour), so rows that task had not yet marked `sending` used to wait `stuck_after` in `queued`.
"""

from __future__ import annotations

import os
import socket
import threading
import uuid
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta

from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from engage.logs import get_logger
from engage.store.message_states import hold_queued, renew_leases

log = get_logger("engage.lease")
DEFAULT_LEASE = timedelta(seconds=30)


def new_holder() -> str:
    """An id naming this worker process (host, pid, and a nonce against pid reuse)."""
    return f"{socket.gethostname()[:40]}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


class LeaseKeeper:
    """Renews this process's leases while at least one batch is in flight."""

    def __init__(
        self,
        sessions: sessionmaker[Session],
        clock: Callable[[], datetime],
        lease: timedelta = DEFAULT_LEASE,
    ) -> None:
        self.sessions = sessions
        self.clock = clock
        self.lease = lease
        self.holder = new_holder()
        self._batches = 0
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None

    def until(self) -> datetime:
        """The end of a lease taken or renewed now."""
        return self.clock() + self.lease

    def hold(self) -> None:
        """A batch is about to move rows to `sending` under this holder."""
        with self._lock:
            self._batches += 1
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="engage-lease", daemon=True)
                self._thread.start()

    def release(self) -> None:
        """A batch's calls are all recorded."""
        with self._lock:
            self._batches -= 1

    def take(self, ids: Sequence[int]) -> list[int]:
        """Hold a starting task's `queued` rows (committed before the batch is prepared)."""
        with self.sessions.begin() as session:
            return hold_queued(session, ids, self.holder, self.clock(), self.until())

    def renew(self) -> int:
        """Push forward every lease this process holds; return how many rows."""
        with self.sessions.begin() as session:
            return renew_leases(session, self.holder, self.until())

    def _run(self) -> None:
        period = self.lease.total_seconds() / 3
        while not self._wake.wait(period):
            with self._lock:
                busy = self._batches > 0
            if not busy:
                continue
            try:
                self.renew()
            except SQLAlchemyError as exc:  # a database blip: the next period tries again
                log.warning("lease.renew_failed", error=type(exc).__name__)
