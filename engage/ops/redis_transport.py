"""kombu's Redis transport with one fix: a closed connection fails as a connection error.

With celery 5.7.0 / kombu 5.7.0, a worker that loses Redis while it holds unacked tasks closes
its default channel twice: once in `Connection.collect()` (the restore of the unacked tasks
fails: Redis is down; that close stops half way), which then sets `transport.client = None`,
and again in `Connection.close()`. The second close retries the restore, builds a new pool from
`transport.client.hostname` and raises `AttributeError`, which no caller treats as a broker
error, so the worker ended ("Unrecoverable error"). An idle worker has nothing to restore and
survived. Raising redis' ConnectionError instead lets kombu and Celery do what they do for any
broker outage: give up the restore (the outbox recovers those rows) and reconnect.
"""

from __future__ import annotations

from typing import Any

import redis
from kombu.transport import redis as kombu_redis

TRANSPORT = "engage.ops.redis_transport:Transport"


class Channel(kombu_redis.Channel):
    def _connparams(self, asynchronous: bool = False) -> Any:
        if self.connection.client is None:
            raise redis.ConnectionError("the broker connection was already closed")
        return super()._connparams(asynchronous=asynchronous)  # type: ignore[no-untyped-call]


class Transport(kombu_redis.Transport):
    Channel = Channel
