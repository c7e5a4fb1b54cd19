"""The console's slow pages at a million patients (bench/console_pages.py) were two plans; on
PostgreSQL, with an outbox shaped like a clinic's (most unsent messages due later, failures
mostly not safety-critical), each read now walks its partial index instead of the table."""

from __future__ import annotations

from datetime import timedelta

import pytest
import sqlalchemy as sa

from engage.console import queries
from engage.ops import outbox
from engage.store.base import utcnow
from engage.store.db import make_engine, session_factory

pytestmark = pytest.mark.postgres
ROWS = 40_000


def _fill(engine: sa.Engine) -> None:
    with engine.begin() as conn:
        conn.execute(
            sa.text("""
            INSERT INTO patient (id, first_name, last_name, timezone, locale, preferred_channel,
                                 created_at, updated_at)
            VALUES (1, 'Ana', 'Rivera', 'America/New_York', 'en', 'sms', now(), now())""")
        )
        conn.execute(
            sa.text("""
            INSERT INTO enrollment (id, patient_id, sequence, state, reason, enrolled_at,
                                    created_at, updated_at)
            VALUES (1, 1, 'pre-infusion', 'active', '', now(), now(), now())""")
        )
        # Half delivered (due in the past), half scheduled for later; 1 in 20 failed, of which
        # 1 in 100 was a safety message.
        conn.execute(
            sa.text(f"""
            INSERT INTO message (patient_id, enrollment_id, sequence, step_id, event_key,
                                 occurrence, channel, template, critical, due_at, state, reason,
                                 attempts, created_at, updated_at)
            SELECT 1, 1, 'pre-infusion', 's' || i, 'enrolled', 1, 'sms', 't', i % 2000 = 0,
                   now() + (CASE WHEN i % 2 = 0 THEN 1 ELSE -1 END) * (i % 500) * interval '1 h',
                   CASE WHEN i % 20 = 0 THEN 'failed' WHEN i % 2 = 0 THEN 'scheduled'
                        ELSE 'delivered' END, '', 1, now(), now()
            FROM generate_series(1, {ROWS}) AS i""")
        )
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(sa.text("VACUUM ANALYZE message"))


def test_the_backlog_and_todays_failed_safety_messages_read_their_partial_indexes(
    postgres_db_url: str,
) -> None:
    engine = make_engine(postgres_db_url)
    _fill(engine)
    now = utcnow()
    ran: list[tuple[str, object]] = []
    sa.event.listen(engine, "before_cursor_execute", lambda *a: ran.append((a[2], a[3])))
    with session_factory(engine)() as session:
        assert outbox.backlog(session, now) == []  # nothing due is unsent
        failed = queries.failures(session, now - timedelta(days=7))
        assert failed and all(m.critical and m.state == "failed" for m, _ in failed)
    statements = list(ran)  # the reads as the services ran them, with their parameters
    with engine.connect() as conn:
        backlog, failures = (
            "\n".join(conn.exec_driver_sql(f"EXPLAIN {sql}", params).scalars())  # type: ignore[arg-type]
            for sql, params in statements
            if "FROM message" in sql
        )
    engine.dispose()
    # Before migration 0017: a parallel scan of the whole outbox, and a walk over every failed
    # message checking each one's `critical` in the table.
    assert "ix_message_unsent_due_at" in backlog and "Seq Scan" not in backlog, backlog
    assert "ix_message_critical_failed_due_at" in failures, failures
