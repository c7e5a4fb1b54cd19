"""`engage worker` whose Celery worker meets an unrecoverable error at start-up.

Celery's own extension point (a worker bootstep) raises the very error kombu raised when a Redis
restart closed a channel with work in flight, so the test sees how `engage worker` exits on it.
"""

from __future__ import annotations

import sys
from typing import ClassVar

from celery import bootsteps

from workers.app import app as celery


class _Unrecoverable(bootsteps.StartStopStep):  # type: ignore[misc]
    requires: ClassVar[set[str]] = {"celery.worker.components:Pool"}

    def start(self, worker: object) -> None:
        raise AttributeError("'NoneType' object has no attribute 'hostname'")


celery.steps["worker"].add(_Unrecoverable)

if __name__ == "__main__":
    from engage.cli.main import app

    sys.argv = ["engage", "worker", *sys.argv[1:]]
    app()
