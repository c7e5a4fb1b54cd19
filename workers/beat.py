"""A worker's liveness beat, for operators where no ping can travel.

`engage status` and the console ask workers with a broadcast ping; the embedded default's
filesystem transport has no broadcast, so without a beat a running worker showed as unknown.
Every worker therefore also beats in the same store as the dispatcher (engage.ops.heartbeat),
from the worker's own timer: a worker that stops consuming stops beating.
"""

from __future__ import annotations

from typing import Any

from celery import bootsteps

from engage.ops.heartbeat import heartbeat
from engage.settings import Settings, load_settings

BEAT_SECONDS = 10.0  # well inside engage.ops.status.ALIVE_WITHIN (30 s)


class Beat(bootsteps.StartStopStep):
    """Beat once at start, then every BEAT_SECONDS, until the worker stops."""

    requires = ("celery.worker.components:Timer",)

    def __init__(self, worker: Any, **kwargs: Any) -> None:
        super().__init__(worker, **kwargs)
        self.settings: Settings | None = None
        self.timer_ref: Any = None

    def start(self, worker: Any) -> None:
        self.settings = load_settings()
        self._beat()
        self.timer_ref = worker.timer.call_repeatedly(BEAT_SECONDS, self._beat, priority=10)

    def stop(self, worker: Any) -> None:
        if self.timer_ref is not None:
            self.timer_ref.cancel()
            self.timer_ref = None

    def _beat(self) -> None:
        if self.settings is not None:
            heartbeat(self.settings, "worker")
