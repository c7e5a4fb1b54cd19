"""The broker as operators see it: how many tasks wait in each queue, and which workers answer.

Read the way the workers connect (`engage.ops.queues`: one URL and transport options), so the
embedded filesystem broker, Redis and RabbitMQ all answer. Nothing here raises when the broker is
down: status pages must still render, and say so.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field

from kombu.connection import Connection
from kombu.pidbox import Mailbox

from engage.ops.queues import QUEUES, broker_options, broker_transport
from engage.settings import Settings

# Celery's control mailbox as `celery.control` builds it with engage's settings (the defaults
# but json): a ping through kombu alone answers alike, without importing Celery (0.4 s of a
# cold `engage status`).
CONTROL = Mailbox(  # type: ignore[no-untyped-call]
    "celery",
    type="fanout",
    accept=["json"],
    serializer="json",
    queue_ttl=300.0,
    reply_queue_ttl=300.0,
    queue_expires=10.0,
    reply_queue_expires=10.0,
    queue_exclusive=True,
    queue_durable=False,
)
REPLY_POLL_SECONDS = 0.05


@dataclass(frozen=True)
class QueueDepths:
    """Tasks waiting per queue; `error` says why the broker could not be read (depths empty)."""

    depths: dict[str, int] = field(default_factory=dict)
    error: str | None = None

    @property
    def reachable(self) -> bool:
        return self.error is None


def _missing_queue(exc: Exception) -> bool:
    # A queue nobody declared yet (no worker ever started) answers 404: it holds nothing.
    return getattr(exc, "reply_code", None) == 404 or "NOT_FOUND" in str(exc)


def queue_depths(settings: Settings, timeout: float = 2.0) -> QueueDepths:
    """Messages waiting in each Celery queue (not counting tasks a worker has prefetched)."""
    url, options = broker_options(settings)
    depths: dict[str, int] = {}
    try:
        connection = Connection(  # type: ignore[no-untyped-call]
            url, transport_options=options, connect_timeout=timeout
        )
        with connection as conn:
            conn.ensure_connection(max_retries=1, timeout=timeout)
            for queue in QUEUES:
                channel = conn.channel()  # one per queue: a 404 closes an AMQP channel
                try:
                    depths[queue] = int(channel.queue_declare(queue=queue, passive=True)[1])
                except Exception as exc:  # sorted just below
                    if not _missing_queue(exc):
                        raise
                    depths[queue] = 0
                finally:
                    _close_quietly(channel)
    except Exception as exc:  # any way the broker fails is reported, not raised
        return QueueDepths(error=f"broker unreachable: {type(exc).__name__}: {exc}")
    return QueueDepths(depths)


def ping_workers(
    settings: Settings, timeout: float = 1.0, limit: int | None = None
) -> list[str] | None:
    """Names of the Celery workers that answered a ping within `timeout`; None if unknown.

    With `limit`, the ping stops waiting once that many have answered (else it waits `timeout`
    out). Unknown in embedded mode: the filesystem transport has no broadcast, so no ping travels.
    """
    if not settings.broker_url:
        return None
    url, options = broker_options(settings)
    # Redis waits for replies with a BRPOP of polling_interval seconds (1 by default), and
    # closing the connection reads the one in flight: a 0.2 s ping took 1.1 s.
    options = {**options, "polling_interval": REPLY_POLL_SECONDS}
    try:
        connection = Connection(  # type: ignore[no-untyped-call]
            url, transport=broker_transport(url), transport_options=options, connect_timeout=5
        )
        with connection as conn:
            replies = CONTROL(conn)._broadcast("ping", {}, None, True, timeout, limit)
    except Exception:  # a broker without broadcast support, or down
        return None
    return sorted(name for reply in replies or () for name in reply)


def _close_quietly(channel: object) -> None:
    with contextlib.suppress(Exception):  # a channel the broker already closed
        channel.close()  # type: ignore[attr-defined]


def broker_reachable(settings: Settings, timeout: float = 2.0) -> str | None:
    """None when the broker accepts a connection, else why not (one line)."""
    url, options = broker_options(settings)
    try:
        connection = Connection(  # type: ignore[no-untyped-call]
            url, transport_options=options, connect_timeout=timeout
        )
        with connection as conn:
            conn.ensure_connection(max_retries=1, timeout=timeout)
    except Exception as exc:  # any way the broker fails is reported, not raised
        return f"{type(exc).__name__}: {exc}"
    return None
