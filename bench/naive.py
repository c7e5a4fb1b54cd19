"""The naive design, for comparison: one `apply_async(eta=due)` per message, held by the broker.

A tiny Celery app on the same broker and transport options as engage (Redis, visibility timeout
3600 s, late acks), on its own queue. Its task only counts its runs in Redis, so the visibility-
timeout demonstration can count duplicate executions. Workers run it with
`celery -A bench.naive worker -Q naive`. BENCH_NAIVE_VISIBILITY shortens the timeout (and the
restore sweep) for that demonstration.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from datetime import datetime

import redis
from celery import Celery
from kombu.entity import Exchange, Queue

from bench.services import BROKER

QUEUE = "naive"
RUNS = "naive:runs"  # hash: message id -> times run
VISIBILITY = float(os.environ.get("BENCH_NAIVE_VISIBILITY", "3600"))

app = Celery("naive", broker=BROKER)
_options: dict[str, object] = {"visibility_timeout": VISIBILITY}
if VISIBILITY < 3600:  # sweep for expired deliveries every second, not every 100 s
    _options |= {"unacked_restore_interval": 1, "unacked_restore_throttle": 1}
app.conf.update(
    broker_transport_options=_options,
    broker_connection_retry_on_startup=True,
    task_acks_late=True,
    task_ignore_result=True,
    worker_prefetch_multiplier=4,
    task_queues=[Queue(QUEUE, Exchange(QUEUE, type="direct"), routing_key=QUEUE)],
    task_default_queue=QUEUE,
    task_serializer="json",
    accept_content=["json"],
    worker_hijack_root_logger=False,
)
_redis = redis.Redis.from_url(BROKER)


@app.task(name="naive.send", acks_late=True)  # type: ignore[untyped-decorator]  # Celery: no hints
def send(message_id: int) -> None:
    """Stands in for a send: records that message `message_id` ran once more."""
    _redis.hincrby(RUNS, str(message_id), 1)


def publish(
    count: int, eta: datetime, on_progress: Callable[[int, int], None] | None = None
) -> None:
    """One ETA task per message, through one producer (as a dispatcher-less scheduler would)."""
    with app.producer_or_acquire() as producer:
        for message_id in range(count):
            send.apply_async(args=(message_id,), eta=eta, queue=QUEUE, producer=producer)
            if on_progress and message_id % 1000 == 0:
                on_progress(message_id, count)


def queue_length() -> int:
    return int(_redis.llen(QUEUE))


def unacked() -> int:
    """Deliveries a worker holds without having acked them (ETA tasks wait here)."""
    return int(_redis.hlen("unacked"))


def runs() -> dict[int, int]:
    return {int(k): int(v) for k, v in _redis.hgetall(RUNS).items()}
