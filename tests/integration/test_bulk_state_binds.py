"""The bulk state moves bind their message ids as one parameter on PostgreSQL.

psycopg neither caches nor prepares a statement of more than 50 parameters; an `IN` list of a
batch's ids made the send path's UPDATEs such statements, converted again on every batch.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from engage.store import MessageState
from engage.store.message_states import hold_queued, move_many

S = MessageState
NOW = datetime(2026, 12, 2, 12, tzinfo=UTC)
IDS = list(range(1, 201))  # more ids than psycopg caches parameters for


def _updates(engine: sa.Engine) -> list[Any]:
    seen: list[Any] = []

    @sa.event.listens_for(engine, "before_cursor_execute")
    def _record(_c: Any, _cur: Any, statement: str, parameters: Any, *_: Any) -> None:
        if statement.lstrip().upper().startswith("UPDATE"):
            seen.append(parameters)

    return seen


def test_a_batch_of_ids_is_few_parameters_on_postgresql(
    engine: sa.Engine, session: Session
) -> None:
    updates = _updates(engine)
    assert move_many(session, IDS, S.SCHEDULED, S.QUEUED, "claimed", "test", NOW) == []
    assert hold_queued(session, IDS, "w1", NOW, NOW + timedelta(minutes=1)) == []
    assert len(updates) == 2
    if engine.dialect.name == "postgresql":
        assert all(len(p) < 10 for p in updates)
    else:  # SQLite has no arrays: the ids stay an IN list
        assert all(len(p) >= len(IDS) for p in updates)
