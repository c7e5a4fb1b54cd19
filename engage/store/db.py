"""Engines and sessions (a message's state changes in `engage.store.message_states`).

SQLite (the embedded default) runs in WAL mode with a busy timeout and enforced foreign keys, so
a dispatcher, a worker and the CLI can share one file, and knows `engage_fold` (name search);
PostgreSQL goes through psycopg 3.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine, create_engine, event, make_url
from sqlalchemy.engine import URL
from sqlalchemy.orm import Session, sessionmaker

from engage.text.fold import fold

DEFAULT_URL = "sqlite:///engage.db"
SQLITE_BUSY_TIMEOUT_MS = 5000


def normalize_url(url: str | URL) -> URL:
    """`postgresql://` and `postgres://` mean psycopg 3, the driver engage ships with."""
    parsed = make_url(url)
    if parsed.drivername in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed


def make_engine(url: str | URL = DEFAULT_URL, **kwargs: Any) -> Engine:
    """An engine for `url`, with SQLite tuned for several processes on one file."""
    parsed = normalize_url(url)
    if parsed.get_backend_name() == "sqlite":
        engine = create_engine(parsed, **kwargs)
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    return create_engine(parsed, pool_pre_ping=True, **kwargs)


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA foreign_keys=ON")
    finally:
        cursor.close()
    # Name search and its index call engage_fold (a SQL function on PostgreSQL, migration 0018).
    dbapi_connection.create_function("engage_fold", 1, _fold_or_null, deterministic=True)


def _fold_or_null(text: str | None) -> str | None:
    return None if text is None else fold(text)


def session_factory(engine: Engine) -> sessionmaker[Session]:
    """Sessions whose objects stay readable after commit (the CLI prints them afterwards)."""
    return sessionmaker(engine, expire_on_commit=False)
