"""Ending pauses that were given an end date: the dispatcher's loop calls this once a tick."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from sqlalchemy.orm import Session, sessionmaker

from engage.enrollment.lifecycle import resume_due
from engage.schedule.models import Schedule


@dataclass
class PauseEnder:
    """Resume enrollments whose `paused_until` has come, at most once per `every`.

    Several dispatchers may run it at once: `resume_due` skips rows another one holds.
    """

    sessions: sessionmaker[Session]
    schedule: Schedule
    every: timedelta = timedelta(minutes=1)
    clock: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))
    _last: datetime | None = None

    def __call__(self) -> int:
        now = self.clock()
        if self._last is not None and now - self._last < self.every:
            return 0
        self._last = now
        with self.sessions() as session:
            return resume_due(session, self.schedule, now=now)
