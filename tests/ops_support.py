"""Shared by the operator tests: a migrated PostgreSQL outbox with some dead letters in it."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import sqlalchemy as sa

from engage.channels.file import FileChannel
from engage.store import Base, Message, MessageEvent, MessageState
from engage.store.db import make_engine
from engage.store.migrate import upgrade
from tests.delivery_kit import Clock, Kit, build_kit

S = MessageState


def fresh_postgres(url: str) -> Iterator[str]:
    """The session's PostgreSQL database, migrated, and emptied again after the test."""
    upgrade(url)
    yield url
    engine = make_engine(url)
    tables = ", ".join(table.name for table in Base.metadata.sorted_tables)
    with engine.begin() as connection:
        connection.execute(sa.text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
    engine.dispose()


def real_time_kit(url: str, tmp_path: Path) -> Kit:
    """A kit on the wall clock: the CLI and the API read the real time."""
    outbox = FileChannel(tmp_path / "outbox")
    clock = Clock(datetime.now(UTC))
    return build_kit(url, tmp_path / "templates", {"sms": outbox, "email": outbox}, clock=clock)


def make_dead(
    kit: Kit,
    state: MessageState = S.FAILED,
    reason: str = "permanent: twilio 21211: invalid number",
    code: str | None = "21211",
    provider_status: str | None = None,
) -> int:
    """A message that was sent to the provider and ended in `state` a minute ago."""
    mid = kit.message(kit.patient())
    at = kit.clock.now - timedelta(minutes=1)
    with kit.sessions.begin() as s:
        m = s.get_one(Message, mid)
        m.state, m.reason, m.last_error_code, m.attempts = state, reason, code, 1
        m.provider, m.provider_id, m.provider_status = "twilio", f"SM{mid}", provider_status
        m.updated_at = at
        s.add(
            MessageEvent(
                message_id=mid,
                at=at,
                from_state="sending",
                to_state=state.value,
                reason=reason,
                actor="worker",
            )
        )
    return mid
