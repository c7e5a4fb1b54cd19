"""Shared fixtures: real servers for the integration tiers, each test on a clean database."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.services import POSTGRES, RABBITMQ, REDIS

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="session")
def postgres_server_url() -> Iterator[str]:
    """A private database on the real PostgreSQL server for this test session, dropped after."""
    base = POSTGRES.require()
    import sqlalchemy as sa

    name = f"engage_test_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    admin = sa.create_engine(base, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    url = base.rsplit("/", 1)[0] + "/" + name
    try:
        yield url
    finally:
        with admin.connect() as conn:
            conn.execute(
                sa.text(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = :n"
                ),
                {"n": name},
            )
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}"'))
        admin.dispose()


@pytest.fixture(scope="session")
def redis_url() -> str:
    return REDIS.require()


@pytest.fixture(scope="session")
def rabbitmq_url() -> str:
    return RABBITMQ.require()


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return ROOT
