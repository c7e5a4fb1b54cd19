"""Run engage's Alembic migrations from the installed package, whatever the working directory.

The Alembic config is built in code with `script_location` inside this package, so no
alembic.ini has to sit next to the caller.
"""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import URL, Connection

from engage.store.db import make_engine

MIGRATIONS = Path(__file__).resolve().parent / "migrations"


def alembic_config(url: str | URL | None = None, connection: Connection | None = None) -> Config:
    """An Alembic config for engage's migrations, aimed at a URL or an open connection."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    # Passed as attributes, not main options: ConfigParser would read a '%' in a password.
    if url is not None:
        config.attributes["url"] = url
    if connection is not None:
        config.attributes["connection"] = connection
    return config


def head() -> str:
    """The newest revision this version of engage knows."""
    script = ScriptDirectory.from_config(alembic_config())
    heads = script.get_heads()
    return heads[0] if len(heads) == 1 else ",".join(sorted(heads))


def upgrade(url: str | URL) -> str:
    """Migrate the database at `url` to the newest revision; return that revision."""
    engine = make_engine(url)
    try:
        with engine.begin() as connection:
            command.upgrade(alembic_config(connection=connection), "head")
        return current(url) or ""
    finally:
        engine.dispose()


def current(url: str | URL) -> str | None:
    """The revision the database at `url` is at (None: never migrated)."""
    engine = make_engine(url)
    try:
        with engine.connect() as connection:
            heads = MigrationContext.configure(connection).get_current_heads()
    finally:
        engine.dispose()
    return ",".join(sorted(heads)) if heads else None


def is_current(url: str | URL) -> bool:
    """True when the database at `url` is at this version's newest revision."""
    return current(url) == head()
