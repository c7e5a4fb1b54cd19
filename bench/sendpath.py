"""Where a worker's CPU goes: `Sender.send` in one thread, no Celery, against the fake provider.

The end-to-end runs show workers CPU-bound; this isolates engage's own send path, counts its SQL
statements per message and splits its profile by library, so a bottleneck report has numbers.
"""

from __future__ import annotations

import cProfile
import pstats
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event

from bench.delivery import PARKED
from bench.outbox import fill
from bench.procs import group
from bench.project import write_project
from bench.services import BROKER, flush_broker, fresh_database
from bench.stack import _listening_url
from engage.logs import configure_logging
from engage.runtime import Runtime
from engage.settings import Settings

# Library of a profiled function, by the first matching fragment of its file name.
CATEGORIES = (
    ("SQLAlchemy", "sqlalchemy"),
    ("psycopg", "psycopg"),
    ("Twilio SDK + requests/urllib3/http", ("twilio", "requests", "urllib3", "http/client")),
    ("Redis client (rate limiter)", "redis"),
    ("rendering (Jinja2, Babel, engage.rendering)", ("jinja2", "babel", "engage/rendering")),
    ("metrics + logging", ("prometheus_client", "structlog", "logging")),
    ("engage (rest)", "engage/"),
)


# Stages of one send: (label, file the function lives in, function name). Cumulative CPU.
STAGES = (
    (
        "read, decide, render, mark sending (Sender._prepare)",
        "engage/delivery/sender.py",
        "_prepare",
    ),
    ("provider call (TwilioChannel.send: SDK + HTTP)", "engage/channels/twilio.py", "send"),
    ("record sent (Sender._record_success)", "engage/delivery/sender.py", "_record_success"),
    ("rate limiter (RedisRateLimiter.acquire)", "engage/ratelimit.py", "acquire"),
)
TOTAL = ("engage/delivery/sender.py", "send")


@dataclass(frozen=True)
class SendPathResult:
    messages: int
    cpu_ms_per_send: float  # process CPU per Sender.send, unprofiled
    wall_ms_per_send: float
    statements_per_send: float  # SQL statements the engine executed, per send
    checkouts_per_send: float  # pool checkouts (each one pings the server first: pool_pre_ping)
    breakdown: dict[str, float]  # share of profiled CPU per library, in percent
    stages: dict[str, float]  # CPU ms per send in each stage (profiled shares x unprofiled CPU)


def measure(folder: Path, n: int = 1500) -> SendPathResult:
    url = fresh_database()
    flush_broker()
    engine = sa.create_engine(url)
    fill(engine, n, patients=n, start=PARKED)
    with engine.begin() as conn:
        conn.execute(sa.text("UPDATE message SET state = 'queued', queued_at = now()"))
        ids = list(conn.execute(sa.text("SELECT id FROM message ORDER BY id")).scalars())
    engine.dispose()
    with group({}, folder / "logs") as procs:
        times = folder / "sendpath-times.txt"
        procs.start(
            "provider",
            [sys.executable, "-m", "bench.provider", "--latency-ms", "0", "--times", str(times)],
        )
        runtime = _runtime(folder, url, _listening_url(folder / "logs" / "provider.log"))
        counts = _count_statements(runtime.engine)
        sender = runtime.sender
        warm, timed, profiled = ids[:50], ids[50 : n // 2], ids[n // 2 :]
        for message_id in warm:
            sender.send(message_id)
        counts.update(statements=0, checkouts=0)
        cpu, wall = time.process_time(), time.perf_counter()
        for message_id in timed:
            sender.send(message_id)
        cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
        statements, checkouts = counts["statements"], counts["checkouts"]
        profile = cProfile.Profile(time.process_time)  # CPU, not time spent waiting
        profile.enable()
        for message_id in profiled:
            sender.send(message_id)
        profile.disable()
        runtime.engine.dispose()
    flush_broker()
    return SendPathResult(
        messages=len(timed),
        cpu_ms_per_send=cpu / len(timed) * 1000,
        wall_ms_per_send=wall / len(timed) * 1000,
        statements_per_send=statements / len(timed),
        checkouts_per_send=checkouts / len(timed),
        breakdown=_breakdown(profile),
        stages=_stages(profile, cpu / len(timed) * 1000),
    )


def _runtime(folder: Path, database_url: str, provider_url: str) -> Runtime:
    schedule, templates = write_project(folder)
    configure_logging("WARNING")
    settings = Settings(
        database_url=database_url,
        broker_url=BROKER,
        schedule_path=schedule,
        templates_dir=templates,
        twilio_account_sid="AC" + "0" * 32,
        twilio_auth_token="token",
        twilio_from="+15005550006",
        twilio_base_url=provider_url,
        sms_rate_per_second=100000,
    )
    return Runtime(settings)


def _count_statements(engine: sa.Engine) -> dict[str, int]:
    counts = {"statements": 0, "checkouts": 0}

    @event.listens_for(engine, "before_cursor_execute")
    def _statement(*_: Any) -> None:
        counts["statements"] += 1

    @event.listens_for(engine, "checkout")
    def _checkout(*_: Any) -> None:
        counts["checkouts"] += 1

    return counts


def _breakdown(profile: cProfile.Profile) -> dict[str, float]:
    stats = pstats.Stats(profile)
    shares: dict[str, float] = {}
    total = 0.0
    for (filename, _line, _name), row in stats.stats.items():  # type: ignore[attr-defined]
        own = row[2]  # tottime: time in the function itself
        total += own
        label = _category(filename)
        shares[label] = shares.get(label, 0.0) + own
    return {k: 100 * v / total for k, v in sorted(shares.items(), key=lambda kv: -kv[1])}


def _category(filename: str) -> str:
    for label, fragments in CATEGORIES:
        if any(f in filename for f in ((fragments,) if isinstance(fragments, str) else fragments)):
            return label
    return "other (stdlib, C builtins)"


def _stages(profile: cProfile.Profile, cpu_ms: float) -> dict[str, float]:
    """Each stage's share of `Sender.send`'s profiled CPU, applied to the unprofiled CPU."""
    cumulative: dict[tuple[str, str], float] = {}
    for (filename, _line, name), row in pstats.Stats(profile).stats.items():  # type: ignore[attr-defined]
        for path, function in (*((p, f) for _, p, f in STAGES), TOTAL):
            if filename.endswith(path) and name == function:
                cumulative[(path, function)] = cumulative.get((path, function), 0.0) + row[3]
    total = cumulative.get(TOTAL, 0.0)
    if not total:
        return {}
    return {
        label: cpu_ms * cumulative.get((path, function), 0.0) / total
        for label, path, function in STAGES
    }
