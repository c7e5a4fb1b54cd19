"""The real servers a benchmark uses: a private PostgreSQL database and Redis db 13.

Both are created empty for each phase and removed at the end, so a run leaves nothing behind and
other engineers' databases (and Redis dbs) on the same servers are never touched.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from contextlib import contextmanager

import redis
import sqlalchemy as sa

from engage.store.migrate import upgrade

POSTGRES = os.environ.get("BENCH_POSTGRES", "postgresql+psycopg://postgres@127.0.0.1:5432")
DATABASE = "engage_bench"
BROKER = os.environ.get("BENCH_REDIS", "redis://127.0.0.1:6379/13")
RUN_LOCK = 0x656E6761  # a PostgreSQL advisory lock key: one `make bench` at a time per server


def database_url(name: str = DATABASE) -> str:
    return f"{POSTGRES}/{name}"


def _admin() -> sa.Engine:
    return sa.create_engine(f"{POSTGRES}/postgres", isolation_level="AUTOCOMMIT")


def drop_database(name: str = DATABASE) -> None:
    admin = _admin()
    with admin.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def fresh_database(name: str = DATABASE) -> str:
    """An empty database at the current migration; its SQLAlchemy URL."""
    drop_database(name)
    admin = _admin()
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    url = database_url(name)
    upgrade(url)
    return url


def flush_broker() -> None:
    redis.Redis.from_url(BROKER).flushdb()


def broker_keys_bytes() -> int:
    """Bytes Redis holds for the keys of our db (MEMORY USAGE): ours alone, unlike INFO memory."""
    client = redis.Redis.from_url(BROKER)
    total = 0
    for key in client.scan_iter(count=1000):
        total += int(client.memory_usage(key, samples=0) or 0)
    return total


def redis_used_memory() -> int:
    """INFO memory used_memory: the whole server, so other users' keys count too."""
    return int(redis.Redis.from_url(BROKER).info("memory")["used_memory"])


@contextmanager
def one_run_at_a_time(wait_seconds: float = 2400.0) -> Iterator[None]:
    """Hold the server-wide bench lock: two runs would drop each other's database and broker."""
    admin = _admin()
    with admin.connect() as conn:
        deadline = time.monotonic() + wait_seconds
        announced = False
        lock = sa.text("SELECT pg_try_advisory_lock(:key)")
        while not conn.execute(lock, {"key": RUN_LOCK}).scalar_one():
            if time.monotonic() > deadline:
                raise SystemExit("another `make bench` still holds the lock; try again later")
            if not announced:
                print("another `make bench` is running on this server: waiting for it to end")
                announced = True
            time.sleep(5.0)
        try:
            yield
        finally:
            conn.execute(sa.text("SELECT pg_advisory_unlock(:key)"), {"key": RUN_LOCK})
    admin.dispose()
