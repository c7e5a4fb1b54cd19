"""Staff mark a patient's reply handled (engage.ops.worklist.mark_handled), on SQLite and
PostgreSQL: who and when are kept, it leaves "to read", a second mark is refused, and the
console's unhandled list is served by the partial index."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session

from engage.console import queries
from engage.errors import Conflict, NotFound
from engage.ops import worklist
from engage.store import AuditLog, InboundMessage, make_engine, session_factory

NOW = datetime(2027, 3, 10, 16, 0, tzinfo=UTC)


@pytest.fixture
def sessions(db_url: str):
    engine = make_engine(db_url)
    yield session_factory(engine)
    engine.dispose()


def _reply(sessions, body: str = "Can I come at 3 instead?", keyword: str = "other") -> int:
    with sessions.begin() as s:
        reply = InboundMessage(from_phone="+14155550100", from_hash="h", body=body, keyword=keyword)
        s.add(reply)
        s.flush()
        return reply.id


def _unread(session: Session) -> list[int]:
    return [r.id for r, _ in queries.replies(session, 1).rows]


def test_marking_a_reply_handled_keeps_who_and_when_and_leaves_the_list(sessions) -> None:
    first, second = _reply(sessions), _reply(sessions, "Thanks!")
    with sessions() as s:
        assert _unread(s) == [second, first]
    with sessions.begin() as s:
        done = worklist.mark_handled(s, first, actor="console:maria", now=NOW)
    assert (done.inbound_id, done.actor, done.at) == (first, "console:maria", NOW)
    with sessions() as s:
        assert _unread(s) == [second]
        row = s.get(InboundMessage, first)
        assert (row.handled_by, row.handled_at) == ("console:maria", NOW)
        [handled] = queries.replies(s, 1, handled=True).rows
        assert handled[0].id == first
        entry = s.scalars(sa.select(AuditLog).where(AuditLog.action == "inbound.handled")).one()
        assert (entry.actor, entry.entity_id) == ("console:maria", str(first))


def test_a_second_mark_is_a_conflict_naming_who_handled_it(sessions) -> None:
    reply = _reply(sessions)
    with sessions.begin() as s:
        worklist.mark_handled(s, reply, actor="console:maria", now=NOW)
    with pytest.raises(Conflict, match="already handled by console:maria"), sessions.begin() as s:
        worklist.mark_handled(s, reply, actor="console:sam", now=NOW)
    with sessions() as s:
        assert s.get(InboundMessage, reply).handled_by == "console:maria"


def test_an_unknown_reply_is_not_found(sessions) -> None:
    with pytest.raises(NotFound), sessions.begin() as s:
        worklist.mark_handled(s, 999, actor="console:maria", now=NOW)


def test_the_unhandled_index_exists(db_url: str) -> None:
    engine = make_engine(db_url)
    names = {i["name"] for i in sa.inspect(engine).get_indexes("inbound_message")}
    engine.dispose()
    assert "ix_inbound_message_unhandled" in names
