"""`engage status` asks the workers with a ping that waits out its timeout unless it knows how
many answers to expect: the workers' beats tell it, so it ends as soon as they all answered."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

import engage.ops.broker as broker
import engage.ops.heartbeat as heartbeat
from engage.ops.broker import QueueDepths
from engage.ops.broker_view import UNBEATEN_PING_TIMEOUT, look_at_broker
from engage.ops.heartbeat import Beat
from engage.settings import Settings
from tests.processes import ROOT

SETTINGS = Settings(
    broker_url="redis://127.0.0.1:9/0",
    schedule_path=ROOT / "schedules.yaml",
    templates_dir=ROOT / "templates",
)


@pytest.fixture
def pings(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    asked: list[dict[str, Any]] = []

    def ping_workers(
        settings: Settings, timeout: float = 1.0, limit: int | None = None
    ) -> list[str]:
        asked.append({"timeout": timeout, "limit": limit})
        return ["celery@a"]

    monkeypatch.setattr(broker, "queue_depths", lambda settings: QueueDepths({"sms": 0}))
    monkeypatch.setattr(broker, "ping_workers", ping_workers)
    return asked


def _beating(monkeypatch: pytest.MonkeyPatch, beats: list[Beat] | Exception) -> None:
    def read(settings: Settings, role: str = "dispatcher", now: datetime | None = None) -> Any:
        assert role == "worker"
        if isinstance(beats, Exception):
            raise beats
        return beats

    monkeypatch.setattr(heartbeat, "beats", read)


def test_the_ping_stops_once_every_beating_worker_answered(
    pings: list[dict[str, Any]], monkeypatch: pytest.MonkeyPatch
) -> None:
    now = datetime.now(UTC)
    _beating(monkeypatch, [Beat("worker", "h:1", now), Beat("worker", "h:2", now)])
    _, workers = look_at_broker(SETTINGS, 0.5)
    assert pings == [{"timeout": 0.5, "limit": 2}]
    assert workers == ["celery@a"]  # the names shown are still the ones that answered


def test_with_no_worker_beating_the_ping_waits_briefly(
    pings: list[dict[str, Any]], monkeypatch: pytest.MonkeyPatch
) -> None:
    _beating(monkeypatch, [])
    look_at_broker(SETTINGS, 0.5)
    assert pings == [{"timeout": UNBEATEN_PING_TIMEOUT, "limit": None}]


def test_unreadable_beats_leave_the_ping_its_whole_timeout(
    pings: list[dict[str, Any]], monkeypatch: pytest.MonkeyPatch
) -> None:
    _beating(monkeypatch, ConnectionError("down"))
    look_at_broker(SETTINGS, 0.5)
    assert pings == [{"timeout": 0.5, "limit": None}]
