"""Is this process ready for traffic? The database answers, its schema is this version's, and
the broker accepts connections. Each check says why it failed, in one line."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Engine, text

from engage.ops.broker import broker_reachable
from engage.settings import Settings
from engage.store.migrate import current, head


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    detail: str


def check_database(engine: Engine) -> Check:
    try:
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
    except Exception as exc:  # reported, not raised: /ready answers 503 with the reason
        return Check("database", False, f"unreachable: {type(exc).__name__}")
    return Check("database", True, engine.dialect.name)


def check_migrations(settings: Settings) -> Check:
    try:
        found, wanted = current(settings.database_url), head()
    except Exception as exc:
        return Check("migrations", False, f"unreadable: {type(exc).__name__}")
    if found != wanted:
        return Check(
            "migrations",
            False,
            f"database at {found or 'nothing'}, code needs {wanted}: run `engage db upgrade`",
        )
    return Check("migrations", True, f"at {wanted}")


def check_broker(settings: Settings, timeout: float = 2.0) -> Check:
    problem = broker_reachable(settings, timeout)
    kind = settings.broker_url.split(":", 1)[0] if settings.broker_url else "filesystem"
    return Check("broker", problem is None, problem or kind)


def readiness(settings: Settings, engine: Engine) -> list[Check]:
    """Every check, in order; the process is ready when all pass."""
    database = check_database(engine)
    migrations = (
        check_migrations(settings)
        if database.ok
        else Check("migrations", False, "database unreachable")
    )
    return [database, migrations, check_broker(settings)]
