"""The bench's peer (bench/peer_app.py) must finish its bursts: with two workers its database
connections fit the server's limit, a task waits for a connection rather than failing, and a
task that fails anyway is retried as Notify retries it (its message was left unsent before, and
the phase waited out its ten-minute limit for it)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from celery.exceptions import Retry
from sqlalchemy.pool import QueuePool

import bench.peer_app as peer_app

SERVER_MAX_CONNECTIONS = 100  # PostgreSQL's default, and this machine's


def test_two_peer_workers_stay_well_inside_the_servers_connections(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("BENCH_PEER_DATABASE_URL", f"sqlite:///{tmp_path / 'peer.db'}")
    monkeypatch.setenv("ENGAGE_TWILIO_BASE_URL", "http://127.0.0.1:9")
    monkeypatch.setattr(peer_app, "_engine", None)
    monkeypatch.setattr(peer_app, "_client", None)
    engine, _ = peer_app._resources()
    pool = engine.pool
    assert isinstance(pool, QueuePool)
    assert pool._max_overflow == 0  # a task waits for a connection instead of failing
    assert 2 * pool.size() <= SERVER_MAX_CONNECTIONS / 2  # the rest: the bench and the others
    engine.dispose()


def test_a_failed_delivery_is_retried_not_dropped(monkeypatch: pytest.MonkeyPatch) -> None:
    def fail(message_id: int) -> None:
        raise OSError("too many clients")

    retried: list[dict[str, Any]] = []

    def retry(**kwargs: Any) -> Retry:
        retried.append(kwargs)
        return Retry()

    monkeypatch.setattr(peer_app, "_deliver", fail)
    monkeypatch.setattr(peer_app.deliver, "retry", retry)
    with pytest.raises(Retry):
        peer_app.deliver.run(7)
    assert retried and retried[0]["countdown"] == peer_app.RETRY_SECONDS
