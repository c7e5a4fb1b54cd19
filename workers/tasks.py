"""Thin Celery tasks: load ids, call engage, nothing else.

Retries are not Celery retries: the sender puts a failed message back in the outbox with a
later due time, so there is one retry mechanism and it survives restarts.
"""

from __future__ import annotations

from typing import Any

from celery.signals import worker_process_init

from engage.delivery.claim import Claimed
from engage.delivery.dispatcher import Dispatcher
from engage.ops.heartbeat import heartbeat
from engage.runtime import Runtime
from engage.settings import load_settings
from workers.app import app

_runtime: Runtime | None = None


def runtime() -> Runtime:
    global _runtime
    if _runtime is None:
        _runtime = Runtime(load_settings())
    return _runtime


@worker_process_init.connect
def _fresh_runtime_after_fork(**_: Any) -> None:
    global _runtime
    _runtime = None  # database pools must not cross a fork


def enqueue(claimed: list[Claimed]) -> None:
    """Publish one send task per claimed message, on its channel's queue."""
    for item in claimed:
        send.apply_async(args=(item.id,), queue=item.channel)


def dispatcher() -> Dispatcher:
    rt = runtime()
    return Dispatcher(
        rt.sessions,
        enqueue,
        batch_size=rt.settings.dispatch_batch_size,
        stuck_after=rt.stuck_after,
        on_tick=lambda: heartbeat(rt.settings),
    )


@app.task(name="engage.send", acks_late=True)
def send(message_id: int) -> str:
    return runtime().sender.send(message_id)


@app.task(name="engage.dispatch")
def dispatch() -> int:
    return dispatcher().tick()


@app.task(name="engage.recover")
def recover() -> dict[str, int]:
    return dispatcher().recover()
