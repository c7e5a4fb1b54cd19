"""Where a worker's CPU goes: `Sender.send_many` without Celery, against the fake provider.

The end-to-end runs show workers CPU-bound; this isolates engage's own send path as a packed task
runs it (batches of ENGAGE_SEND_CHUNK_SIZE, provider calls on the Sender's thread pool), counts
its SQL statements per message and splits its profile by library, so a bottleneck report has
numbers.
"""

from __future__ import annotations

import cProfile
import pstats
import sys
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Executor, Future
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ParamSpec, TypeVar

import sqlalchemy as sa
from sqlalchemy import event

from bench.delivery import PARKED
from bench.outbox import fill
from bench.procs import group
from bench.project import write_project
from bench.services import BROKER, flush_broker, fresh_database
from bench.stack import _listening_url
from engage.delivery.sender import Sender
from engage.logs import configure_logging
from engage.runtime import Runtime
from engage.settings import Settings

# Library of a profiled function, by the first matching fragment of its file name.
CATEGORIES = (
    ("SQLAlchemy", "sqlalchemy"),
    ("psycopg", "psycopg"),
    ("Twilio SDK + urllib3/http", ("twilio", "urllib3", "http/client")),
    ("SendGrid SDK (sendgrid, python_http_client)", ("sendgrid", "python_http_client")),
    ("Redis client (rate limiter)", "redis"),
    ("rendering (Jinja2, Babel, engage.rendering)", ("jinja2", "babel", "engage/rendering")),
    ("metrics + logging", ("prometheus_client", "structlog", "logging")),
    ("engage (rest)", "engage/"),
)


# Stages of a batch: (label, file the function lives in, function name). Cumulative CPU.
STAGES = (
    (
        "read, decide, render, mark sending: whole batch (Preparer.prepare)",
        "engage/delivery/prepare.py",
        "prepare",
    ),
    ("provider call (TwilioChannel.send: SDK + urllib3)", "engage/channels/twilio.py", "send"),
    ("provider call (SendGridChannel.send: SDK + urllib3)", "engage/channels/sendgrid.py", "send"),
    ("record receipts (Recorder.record)", "engage/delivery/record.py", "record"),
    ("rate limiter (RedisRateLimiter.acquire)", "engage/delivery/ratelimit.py", "acquire"),
)
TOTAL = ("engage/delivery/sender.py", "send_many")
TIMED_BATCHES = 20
PROFILED_BATCHES = 10

P = ParamSpec("P")
T = TypeVar("T")


@dataclass(frozen=True)
class SendPathResult:
    messages: int  # messages timed (unprofiled)
    batch_size: int  # messages per `send_many` call: Settings().send_chunk_size
    cpu_ms_per_message: float  # process CPU (every thread) per message, unprofiled
    wall_ms_per_message: float  # a batch's wall time divided by its messages
    statements_per_message: float  # SQL statements the engine executed, per message
    checkouts_per_message: float  # connection pool checkouts, per message
    breakdown: dict[str, float]  # share of profiled CPU per library, in percent
    stages: dict[str, float]  # CPU ms per message in each stage (profiled shares x unprofiled CPU)


def measure(folder: Path, channels: tuple[str, ...] = ("sms",)) -> SendPathResult:
    url = fresh_database()
    flush_broker()
    with group({}, folder / "logs") as procs:
        times = folder / "sendpath-times.txt"
        procs.start(
            "provider",
            [sys.executable, "-m", "bench.provider", "--latency-ms", "0", "--times", str(times)],
        )
        runtime = _runtime(folder, url, _listening_url(folder / "logs" / "provider.log"))
        size = runtime.settings.send_chunk_size
        warm, timed, profiled = _batches(url, size, channels)
        counts = _count_statements(runtime.engine)
        sender = runtime.sender
        for batch in warm:  # connections, the thread pool's threads, template compilation
            sender.send_many(batch)
        counts.update(statements=0, checkouts=0)
        cpu, wall = time.process_time(), time.perf_counter()
        for batch in timed:
            sender.send_many(batch)
        cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
        statements, checkouts = counts["statements"], counts["checkouts"]
        # All of it runs on this thread now, so the thread's own CPU clock leaves out nothing.
        profile = cProfile.Profile(time.thread_time)  # CPU, not time spent waiting
        with _inline_calls(sender):
            profile.enable()
            for batch in profiled:
                sender.send_many(batch)
            profile.disable()
        runtime.engine.dispose()
    flush_broker()
    sent = sum(len(batch) for batch in timed)
    cpu_ms = cpu / sent * 1000
    return SendPathResult(
        messages=sent,
        batch_size=size,
        cpu_ms_per_message=cpu_ms,
        wall_ms_per_message=wall / sent * 1000,
        statements_per_message=statements / sent,
        checkouts_per_message=checkouts / sent,
        breakdown=_breakdown(profile),
        stages=_stages(profile, cpu_ms),
    )


def _batches(
    url: str, size: int, channels: tuple[str, ...]
) -> tuple[list[list[int]], list[list[int]], list[list[int]]]:
    """Queue one warm-up batch, then the timed and the profiled ones; each patient has one."""
    n = size * (1 + TIMED_BATCHES + PROFILED_BATCHES)
    engine = sa.create_engine(url)
    fill(engine, n, patients=n, start=PARKED, channels=channels)
    with engine.begin() as conn:
        conn.execute(sa.text("UPDATE message SET state = 'queued', queued_at = now()"))
        ids = list(conn.execute(sa.text("SELECT id FROM message ORDER BY id")).scalars())
    engine.dispose()
    batches = [ids[i : i + size] for i in range(0, n, size)]
    return batches[:1], batches[1 : 1 + TIMED_BATCHES], batches[1 + TIMED_BATCHES :]


class _InlineExecutor(Executor):
    """Bench only: runs each submitted call at once, on the caller's thread.

    cProfile sees only the thread that enabled it; with this in place of `Sender.pool` the
    provider calls (SDK, HTTP, rate limiter) run on that thread and show in the profile.
    They then run one after another, which changes wall time, not the CPU each one costs.
    """

    def submit(self, fn: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs) -> Future[T]:
        future: Future[T] = Future()
        try:
            future.set_result(fn(*args, **kwargs))
        except BaseException as exc:  # the Future carries it, as the thread pool's would
            future.set_exception(exc)
        return future


@contextmanager
def _inline_calls(sender: Sender) -> Iterator[None]:
    pool = sender.pool
    sender.pool = _InlineExecutor()  # type: ignore[assignment]  # duck-typed: submit() only
    try:
        yield
    finally:
        sender.pool = pool


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
        sendgrid_api_key="SG.bench",
        sendgrid_from="clinic@example.org",
        sendgrid_base_url=provider_url,
        sms_rate_per_second=100000,
        email_rate_per_second=100000,
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
    """Each stage's share of `Sender.send_many`'s profiled CPU, applied to the unprofiled CPU."""
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
