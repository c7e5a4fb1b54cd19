"""Liveness beats: the dispatcher loop calls `heartbeat()` every tick; `engage status` reads them.

Where the beat is kept follows the rate limiter: a Redis key with a TTL in ENGAGE_REDIS_URL, or in
the broker when that is Redis (every machine sees it); else a small file under var/heartbeat
(embedded mode: one machine). Status also shows the dispatcher's newest outbox event as a hint.
"""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache
from pathlib import Path
from typing import Any

from engage.logs import get_logger
from engage.settings import Settings

log = get_logger("engage.heartbeat")
PREFIX = "engage:heartbeat"
TTL_SECONDS = 300  # a beat older than this is gone; "alive" is judged on a much shorter age
FOLDER = Path("var/heartbeat")


@dataclass(frozen=True)
class Beat:
    """The newest beat of one process (`instance` is host:pid)."""

    role: str
    instance: str
    at: datetime

    def age(self, now: datetime) -> float:
        return max(0.0, (now - self.at).total_seconds())


def instance_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


@lru_cache(maxsize=4)
def _redis(url: str) -> Any:
    import redis

    return redis.Redis.from_url(url, socket_timeout=1.0, socket_connect_timeout=1.0)


def _redis_url(settings: Settings) -> str | None:
    url = settings.redis_url or settings.broker_url
    return url if url.startswith(("redis://", "rediss://", "unix://")) else None


def heartbeat(settings: Settings, role: str = "dispatcher", now: datetime | None = None) -> None:
    """Record that this process is alive. Never raises: a lost beat must not stop the loop."""
    moment = now or datetime.now(UTC)
    instance = instance_name()
    try:
        url = _redis_url(settings)
        if url:
            key = f"{PREFIX}:{role}:{instance}"
            _redis(url).set(key, moment.isoformat(), ex=TTL_SECONDS)
        else:
            path = FOLDER / role / instance.replace(":", "_")
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(f"{instance}\n{moment.isoformat()}\n")
    except Exception as exc:  # reported, never fatal to the caller
        log.warning("heartbeat.lost", role=role, error=type(exc).__name__)


def beats(settings: Settings, role: str = "dispatcher", now: datetime | None = None) -> list[Beat]:
    """Every live beat of `role` (younger than the TTL), newest first.

    Raises if the store cannot be read: the caller reports that, rather than "no dispatcher".
    """
    moment = now or datetime.now(UTC)
    found: list[Beat] = []
    url = _redis_url(settings)
    if url:
        client = _redis(url)
        for key in client.scan_iter(match=f"{PREFIX}:{role}:*", count=100):
            value = client.get(key)
            if value is not None:
                name = key.decode().removeprefix(f"{PREFIX}:{role}:")
                found.append(Beat(role, name, datetime.fromisoformat(value.decode())))
    else:
        folder = FOLDER / role
        for path in folder.glob("*") if folder.is_dir() else ():
            name, _, stamp = path.read_text().partition("\n")
            beat = Beat(role, name, datetime.fromisoformat(stamp.strip()))
            if beat.age(moment) > TTL_SECONDS:
                path.unlink(missing_ok=True)  # a file has no TTL: expire it like a Redis key
                continue
            found.append(beat)
    return sorted(found, key=lambda beat: beat.at, reverse=True)
