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


def settle(url: str) -> None:
    """What an operator does after a bulk load: VACUUM ANALYZE (statistics, hint bits and the
    visibility map written now, not by the first reads) and CHECKPOINT (the dirty pages written
    now, not by a checkpoint spread over the measurement)."""
    engine = sa.create_engine(url, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(sa.text("VACUUM ANALYZE"))
        conn.execute(sa.text("CHECKPOINT"))
    engine.dispose()


def database_note(name: str) -> str | None:
    """The comment on database `name` (None: no such database)."""
    admin = _admin()
    with admin.connect() as conn:
        note = conn.execute(
            sa.text(
                "SELECT coalesce(shobj_description(oid, 'pg_database'), '') FROM pg_database "
                "WHERE datname = :name"
            ),
            {"name": name},
        ).scalar()
    admin.dispose()
    return None if note is None else str(note)


def note_database(name: str, note: str) -> None:
    admin = _admin()
    with admin.connect() as conn:
        conn.execute(sa.text(f"COMMENT ON DATABASE \"{name}\" IS '{note}'"))
    admin.dispose()


def copy_database(template: str, name: str) -> str:
    """Database `name` as a file copy of `template` (its rows, indexes, statistics and
    visibility map: as settled as the template was); its SQLAlchemy URL."""
    drop_database(name)
    admin = _admin()
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}" TEMPLATE "{template}" STRATEGY FILE_COPY'))
    admin.dispose()
    return database_url(name)


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
