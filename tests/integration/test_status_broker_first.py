"""`engage status` can hand gather a broker answer already under way (started before the
database side's imports): that answer is the one shown, and no second ping is made."""

from __future__ import annotations

from concurrent.futures import Future
from datetime import UTC, datetime

from sqlalchemy.orm import Session, sessionmaker

from engage.ops.broker import QueueDepths
from engage.ops.broker_view import BrokerView
from engage.ops.status import gather
from engage.settings import Settings
from tests.processes import ROOT


def test_a_broker_answer_started_by_the_caller_is_the_one_shown(
    sessions: sessionmaker[Session],
) -> None:
    settings = Settings(
        broker_url="redis://127.0.0.1:9/0",  # nothing listens: a ping here would say unreachable
        schedule_path=ROOT / "schedules.yaml",
        templates_dir=ROOT / "templates",
    )
    answer: Future[BrokerView] = Future()
    answer.set_result((QueueDepths({"send": 4}), ["worker@a"]))
    snap = gather(settings, sessions, datetime.now(UTC), broker=answer)
    assert snap.queues.depths == {"send": 4}
    assert snap.workers == ("worker@a",)
