"""Where the real servers for integration tiers live, and whether they answer.

Under CI=true an absent server is a failure, never a skip.
"""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass
from urllib.parse import urlparse

import pytest

IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


@dataclass(frozen=True)
class Service:
    name: str
    url: str
    marker: str

    @property
    def address(self) -> tuple[str, int]:
        parsed = urlparse(self.url.replace("postgresql+psycopg", "postgresql"))
        default = {"postgresql": 5432, "redis": 6379, "amqp": 5672}[parsed.scheme]
        return parsed.hostname or "127.0.0.1", parsed.port or default

    def reachable(self) -> bool:
        try:
            with socket.create_connection(self.address, timeout=1.0):
                return True
        except OSError:
            return False

    def require(self) -> str:
        """Return the URL, or skip (fail under CI) saying which tier and why."""
        if self.reachable():
            return self.url
        host, port = self.address
        why = f"{self.name} tier: no server at {host}:{port}"
        if IN_CI:
            pytest.fail(f"{why} (CI=true: integration tiers must run)")
        pytest.skip(why)


POSTGRES = Service(
    "PostgreSQL",
    os.environ.get("ENGAGE_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"),
    "postgres",
)
REDIS = Service(
    "Redis", os.environ.get("ENGAGE_TEST_REDIS_URL", "redis://127.0.0.1:6379/15"), "redis"
)
RABBITMQ = Service(
    "RabbitMQ",
    os.environ.get("ENGAGE_TEST_RABBITMQ_URL", "amqp://guest:guest@127.0.0.1:5672//"),
    "rabbitmq",
)
ALL = (POSTGRES, REDIS, RABBITMQ)

# The browser tier's Chromium (Debian's package; tests/browser/conftest.py drives it).
CHROMIUM = os.environ.get("ENGAGE_TEST_CHROMIUM", "/usr/bin/chromium")
