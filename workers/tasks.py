"""Thin Celery tasks: load ids, call engage, nothing else.

Retries are not Celery retries: the sender puts a failed message back in the outbox with a
later due time, so there is one retry mechanism and it survives restarts.
"""

from __future__ import annotations

from typing import Any

from celery.signals import worker_process_init

from engage.delivery.batching import pack
from engage.delivery.claim import Claimed
from engage.delivery.dispatcher import Dispatcher
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
    """Publish send tasks on each channel's queue: one message each, or packed in a backlog."""
    for channel, ids in pack(claimed, runtime().settings.send_chunk_size):
        if len(ids) == 1:
            send.apply_async(args=(ids[0],), queue=channel)
        else:
            send_many.apply_async(args=(ids,), queue=channel)


def dispatcher() -> Dispatcher:
    return runtime().dispatcher(enqueue)


@app.task(name="engage.send", acks_late=True)
def send(message_id: int) -> str:
    return runtime().sender.send(message_id)


@app.task(name="engage.send_many", acks_late=True)
def send_many(message_ids: list[int]) -> list[str]:
    """Several messages of one channel, sent as one batch; a redelivery skips the sent ones."""
    return runtime().sender.send_many(message_ids)


@app.task(name="engage.dispatch")
def dispatch() -> int:
    return dispatcher().tick()


@app.task(name="engage.recover")
def recover() -> dict[str, int]:
    return dispatcher().recover()
