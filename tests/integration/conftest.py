"""Database fixtures: every store test runs once on SQLite and once on PostgreSQL.

Both databases are built by the real migrations (never `create_all`), once per session; each test
then gets a clean copy (SQLite: a copied file; PostgreSQL: truncated tables).
"""

from __future__ import annotations

import io
import logging
import shutil
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session, sessionmaker

from engage.logs import configure_logging
from engage.store import Base, make_engine, session_factory
from engage.store.migrate import upgrade
from tests.delivery_kit import Kit, build_kit, provider_channels, provider_settings
from tests.fakes.provider_server import ProviderServer


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A migrated SQLite file that tests copy instead of migrating again."""
    path = tmp_path_factory.mktemp("db") / "template.db"
    upgrade(f"sqlite:///{path}")
    return path


@pytest.fixture(scope="session")
def migrated_postgres_url(postgres_server_url: str) -> Iterator[str]:
    """A migrated database of its own beside the session's, so that tests which drop or fill
    the shared one cannot disturb these (and the other way round)."""
    url = sa.make_url(postgres_server_url)
    name = f"{url.database}_store"
    admin = sa.create_engine(url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(sa.text(f'CREATE DATABASE "{name}"'))
    own = url.set(database=name).render_as_string(hide_password=False)
    upgrade(own)
    try:
        yield own
    finally:
        with admin.connect() as connection:
            connection.execute(
                sa.text(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = :n"
                ),
                {"n": name},
            )
            connection.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}"'))
        admin.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """The URL of a migrated, empty database: SQLite, then PostgreSQL."""
    if request.param == "sqlite":
        path = tmp_path / "engage.db"
        shutil.copy(request.getfixturevalue("sqlite_template"), path)
        yield f"sqlite:///{path}"
        return
    url: str = request.getfixturevalue("migrated_postgres_url")
    yield url
    _truncate(url)


@pytest.fixture
def postgres_db_url(migrated_postgres_url: str) -> Iterator[str]:
    """PostgreSQL only (for tests of PostgreSQL behaviour), emptied after the test."""
    yield migrated_postgres_url
    _truncate(migrated_postgres_url)


def _truncate(url: str) -> None:
    engine = make_engine(url)
    tables = ", ".join(table.name for table in Base.metadata.sorted_tables)
    with engine.begin() as connection:
        connection.execute(sa.text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
    engine.dispose()


@pytest.fixture
def engine(db_url: str) -> Iterator[sa.Engine]:
    engine = make_engine(db_url)
    yield engine
    engine.dispose()


@pytest.fixture
def sessions(engine: sa.Engine) -> sessionmaker[Session]:
    return session_factory(engine)


@pytest.fixture
def session(sessions: sessionmaker[Session]) -> Iterator[Session]:
    with sessions() as session:
        yield session


@pytest.fixture
def fake() -> Iterator[ProviderServer]:
    """Our fake Twilio + SendGrid, recording every request; scripted per test."""
    with ProviderServer() as server:
        yield server


@pytest.fixture
def kit(db_url: str, tmp_path: Path, fake: ProviderServer) -> Kit:
    """The production dispatcher and sender on a clean database, real SDKs at the fake."""
    channels = provider_channels(provider_settings(fake.url))
    return build_kit(db_url, tmp_path / "templates", channels)


@pytest.fixture
def log_level() -> str:
    """The level `stderr` configures; a module overrides this fixture to hear more."""
    return "INFO"


@pytest.fixture
def stderr(monkeypatch: pytest.MonkeyPatch, log_level: str) -> Iterator[io.StringIO]:
    """What engage's production log configuration writes to stderr."""
    stream = io.StringIO()
    monkeypatch.setattr(sys, "stderr", stream)
    root = logging.getLogger()
    saved = root.handlers[:], root.level
    configure_logging(log_level, json=True)
    yield stream
    root.handlers[:] = saved[0]
    root.setLevel(saved[1])
