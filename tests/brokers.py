"""Brokers a test may break: its own redis-server, its own RabbitMQ vhost.

The shared servers are never restarted; a test that restarts a broker starts its own Redis on a
free port (no persistence, as a restart with nothing on disk is the worst case), and a test that
drops RabbitMQ connections drops only those of a vhost it created.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from urllib.parse import urlparse

import pytest
import redis

from tests.services import IN_CI, RABBITMQ


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class OwnRedis:
    """A redis-server of the test's own, restartable on the same port."""

    def __init__(self) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            why = "no redis-server on PATH to start a broker of the test's own"
            if IN_CI:
                pytest.fail(f"{why} (CI=true: this tier must run)")
            pytest.skip(why)
        self.binary = binary
        self.port = free_port()
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.proc = subprocess.Popen(
            [self.binary, "--port", str(self.port), "--save", "", "--appendonly", "no"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            with suppress(redis.ConnectionError):
                if redis.Redis.from_url(self.url, socket_timeout=1).ping():
                    return
            time.sleep(0.05)
        raise AssertionError(f"redis-server on port {self.port} did not answer within 10 s")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=10)
        self.proc = None

    def restart(self, down_for: float = 1.0) -> float:
        """Kill it (everything in memory is lost), wait, start again; return when it is back."""
        self.stop()
        time.sleep(down_for)
        self.start()
        return time.monotonic()


@contextmanager
def own_redis() -> Iterator[OwnRedis]:
    server = OwnRedis()
    server.start()
    try:
        yield server
    finally:
        server.stop()


def _rabbitmqctl(*args: str) -> None:
    subprocess.run(["rabbitmqctl", "--quiet", *args], check=True, capture_output=True, timeout=60)


class OwnVhost:
    """A vhost on the shared RabbitMQ whose connections the test may close."""

    def __init__(self, base_url: str) -> None:
        self.name = f"engage_test_{uuid.uuid4().hex[:8]}"
        parsed = urlparse(base_url)
        self.url = f"{parsed.scheme}://{parsed.netloc}/{self.name}"

    def close_connections(self) -> float:
        _rabbitmqctl("close_all_connections", "--vhost", self.name, "test")
        return time.monotonic()


@contextmanager
def own_vhost() -> Iterator[OwnVhost]:
    base = RABBITMQ.require()
    if shutil.which("rabbitmqctl") is None:
        why = "no rabbitmqctl on PATH to close connections"
        if IN_CI:
            pytest.fail(f"{why} (CI=true: this tier must run)")
        pytest.skip(why)
    vhost = OwnVhost(base)
    _rabbitmqctl("add_vhost", vhost.name)
    _rabbitmqctl("set_permissions", "-p", vhost.name, "guest", ".*", ".*", ".*")
    try:
        yield vhost
    finally:
        _rabbitmqctl("delete_vhost", vhost.name)
