"""`engage status` in one value: backlog, lateness, activity per channel, queues, liveness.

Gathered from the database (the outbox and its events), the broker (queue depths, a worker
ping) and the heartbeats; any part that cannot be read is reported as unknown, never raised.
The broker is asked on a thread while the database answers (a ping waits out its timeout, and
importing Celery for it is most of a cold start), so the command costs the slower of the two.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from engage.ops import outbox
from engage.ops import outbox_tables as t
from engage.ops.broker_view import BrokerView, look_at_broker
from engage.ops.heartbeat import Beat, beats
from engage.settings import Settings

if TYPE_CHECKING:  # engage.ops.broker imports kombu: only the broker thread needs it
    from engage.ops.broker import QueueDepths
    from engage.ops.outbox import Reads

WINDOW = timedelta(hours=1)
# A dispatcher ticks every second or so; three missed beats of a slow tick still count as alive.
ALIVE_WITHIN = timedelta(seconds=30)
ACTIVITY = (t.SENT, t.DELIVERED, t.FAILED, t.UNDELIVERED, t.FLAGGED)


@dataclass(frozen=True)
class ChannelActivity:
    """What happened on one channel within the window."""

    channel: str
    sent: int
    delivered: int
    failed: int  # failed + undelivered
    flagged: int


@dataclass(frozen=True)
class Snapshot:
    at: datetime
    window_seconds: float
    backlog: tuple[outbox.Backlog, ...]
    lateness_p50: float | None
    lateness_p99: float | None
    lateness_samples: int
    channels: tuple[ChannelActivity, ...]
    top_failures: tuple[tuple[str, int], ...]
    queues: QueueDepths
    workers: tuple[str, ...] | None  # None: neither a ping nor the beats could be read
    dispatchers: tuple[Beat, ...] | None  # None: the heartbeat store could not be read
    dispatcher_last_event: datetime | None

    @property
    def backlog_total(self) -> int:
        return sum(item.count for item in self.backlog)

    @property
    def backlog_oldest_seconds(self) -> float | None:
        oldest = [item.oldest_due for item in self.backlog if item.oldest_due]
        return max(0.0, (self.at - min(oldest)).total_seconds()) if oldest else None

    @property
    def live_dispatchers(self) -> tuple[Beat, ...]:
        return tuple(b for b in self.dispatchers or () if b.age(self.at) <= ALIVE_WITHIN.seconds)

    @property
    def dispatcher_alive(self) -> bool:
        return bool(self.live_dispatchers)

    def to_json(self) -> dict[str, Any]:
        return {
            "at": self.at.isoformat(),
            "window_seconds": self.window_seconds,
            "backlog": {
                "total": self.backlog_total,
                "oldest_seconds": self.backlog_oldest_seconds,
                "by_channel": {b.channel: b.count for b in self.backlog},
            },
            "lateness_seconds": {
                "p50": self.lateness_p50,
                "p99": self.lateness_p99,
                "samples": self.lateness_samples,
            },
            "channels": {
                c.channel: {
                    "sent": c.sent,
                    "delivered": c.delivered,
                    "failed": c.failed,
                    "flagged": c.flagged,
                }
                for c in self.channels
            },
            "top_failures": [{"reason": r, "count": n} for r, n in self.top_failures],
            "queues": {"depths": self.queues.depths, "error": self.queues.error},
            "workers": {
                "alive": None if self.workers is None else bool(self.workers),
                "names": list(self.workers or ()),
            },
            "dispatcher": {
                "alive": self.dispatcher_alive,
                "instances": [
                    {"instance": b.instance, "age_seconds": round(b.age(self.at), 1)}
                    for b in self.dispatchers or ()
                ],
                "last_event_at": _iso(self.dispatcher_last_event),
            },
        }


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def percentile(values: Sequence[float], q: float) -> float | None:
    """The nearest-rank `q` percentile (0 < q <= 100) of `values`; None when there are none."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return ordered[rank - 1]


def gather(
    settings: Settings,
    sessions: Callable[[], AbstractContextManager[Reads]],
    now: datetime,
    *,
    window: timedelta = WINDOW,
    ping_timeout: float = 0.5,  # local workers answer in milliseconds; a ping waits it out
    broker: Future[BrokerView] | None = None,
) -> Snapshot:
    """Read everything `engage status` shows, as of `now`.

    `broker`: the broker's answer already under way (`look_at_broker` on a thread), so a caller
    can start the ping before importing what the database side needs; else started here.
    `sessions`: a sessionmaker, or `engine.connect` (no ORM needed).
    """
    since = now - window
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="status-broker") as pool:
        if broker is None:
            broker = pool.submit(look_at_broker, settings, ping_timeout)
        with sessions() as session:
            outbox.plan_as_small_reads(session)
            lag = outbox.backlog(session, now)
            lateness = outbox.lateness_seconds(session, since)
            moves = outbox.transitions_by_channel(session, since, ACTIVITY)
            failures = outbox.top_failure_reasons(session, since)
            last_event = outbox.last_event_at(session, t.DISPATCHER)
        dispatchers = _dispatcher_beats(settings, now)
        queues, workers = broker.result()
    if not workers and queues.reachable:
        # No ping can travel (embedded), or none was answered in time (a worker busy with a
        # burst): the beats, from each worker's own timer, say who is alive.
        beating = _beating_workers(settings, now)
        if beating is not None and (beating or workers is None):
            workers = beating
    return Snapshot(
        at=now,
        window_seconds=window.total_seconds(),
        backlog=tuple(lag),
        lateness_p50=percentile(lateness, 50),
        lateness_p99=percentile(lateness, 99),
        lateness_samples=len(lateness),
        channels=_activity(moves, {b.channel for b in lag}),
        top_failures=tuple(failures),
        queues=queues,
        workers=None if workers is None else tuple(workers),
        dispatchers=dispatchers,
        dispatcher_last_event=last_event,
    )


def _activity(moves: dict[tuple[str, str], int], extra: set[str]) -> tuple[ChannelActivity, ...]:
    channels = sorted(set(t.CHANNELS) | extra | {channel for channel, _ in moves})
    return tuple(
        ChannelActivity(
            channel=c,
            sent=moves.get((c, t.SENT), 0),
            delivered=moves.get((c, t.DELIVERED), 0),
            failed=moves.get((c, t.FAILED), 0) + moves.get((c, t.UNDELIVERED), 0),
            flagged=moves.get((c, t.FLAGGED), 0),
        )
        for c in channels
    )


def _beating_workers(settings: Settings, now: datetime) -> list[str] | None:
    """Workers whose beat (workers.beat) is younger than ALIVE_WITHIN; None if unreadable."""
    try:
        found = beats(settings, "worker", now)
    except Exception:  # the heartbeat store is down: unknown, not "none"
        return None
    return sorted(b.instance for b in found if b.age(now) <= ALIVE_WITHIN.seconds)


def _dispatcher_beats(settings: Settings, now: datetime) -> tuple[Beat, ...] | None:
    try:
        return tuple(beats(settings, "dispatcher", now))
    except Exception:  # the heartbeat store is down: say "unknown", not "dead"
        return None
