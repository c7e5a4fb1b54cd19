"""`engage status` and /metrics read small index ranges that PostgreSQL's planner, at ten million
messages, takes for big ones: their transaction asks for no parallel workers and no JIT (whose
start-up was most of the command's database time), and only that transaction."""

from __future__ import annotations

from concurrent.futures import Future
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session, sessionmaker

from engage.ops.broker import QueueDepths
from engage.ops.broker_view import BrokerView
from engage.ops.metrics_scrape import OutboxCollector
from engage.ops.outbox import plan_as_small_reads
from engage.ops.status import gather
from engage.settings import Settings
from tests.processes import ROOT


def _statements(engine: sa.Engine) -> list[str]:
    seen: list[str] = []

    @sa.event.listens_for(engine, "before_cursor_execute")
    def _seen(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        seen.append(statement)

    return seen


def test_status_and_metrics_plan_their_reads_as_small(
    engine: sa.Engine, sessions: sessionmaker[Session]
) -> None:
    seen = _statements(engine)
    settings = Settings(
        broker_url="redis://127.0.0.1:9/0",
        schedule_path=ROOT / "schedules.yaml",
        templates_dir=ROOT / "templates",
    )
    answer: Future[BrokerView] = Future()
    answer.set_result((QueueDepths({"sms": 0}), []))
    gather(settings, sessions, datetime.now(UTC), broker=answer)
    OutboxCollector(sessions).collect()
    small = [s for s in seen if s.startswith("SET LOCAL")]
    if engine.dialect.name == "postgresql":
        assert small.count("SET LOCAL jit = off") == 2  # status's transaction, the scrape's
        assert small.count("SET LOCAL max_parallel_workers_per_gather = 0") == 2
    else:
        assert small == []  # PostgreSQL's knobs only


def test_the_small_reads_setting_ends_with_its_transaction(
    engine: sa.Engine, sessions: sessionmaker[Session]
) -> None:
    if engine.dialect.name != "postgresql":
        return
    with sessions() as session:
        default = session.execute(sa.text("SHOW max_parallel_workers_per_gather")).scalar_one()
    with sessions() as session:
        plan_as_small_reads(session)
        assert session.execute(sa.text("SHOW jit")).scalar_one() == "off"
        assert session.execute(sa.text("SHOW max_parallel_workers_per_gather")).scalar_one() == "0"
    with sessions() as session:
        assert (
            session.execute(sa.text("SHOW max_parallel_workers_per_gather")).scalar_one() == default
        )
