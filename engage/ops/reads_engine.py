"""An engine for a few reads (`engage status`), built without `engage.store`.

`engage.store.db.make_engine` is the engine of everything that writes; importing it imports
every model (the package registers them), most of a cold `engage status`. Reads need none of
its SQLite tuning but the busy timeout, and the same driver for PostgreSQL.
"""

from __future__ import annotations

from sqlalchemy import Engine, create_engine, make_url

SQLITE_BUSY_TIMEOUT_S = 5.0  # as engage.store.db's busy_timeout


def reads_engine(url: str) -> Engine:
    """An engine for `url`: `postgresql://` means psycopg 3, as `engage.store.db.normalize_url`."""
    parsed = make_url(url)
    if parsed.drivername in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    if parsed.get_backend_name() == "sqlite":
        return create_engine(parsed, connect_args={"timeout": SQLITE_BUSY_TIMEOUT_S})
    return create_engine(parsed)
