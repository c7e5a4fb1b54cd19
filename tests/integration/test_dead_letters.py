"""Dead letters on SQLite and PostgreSQL: listing with reasons, and requeueing without duplicates."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from engage.channels.file import FileChannel
from engage.ops.failed import FailedFilter, Outcome, list_failed, requeue, requeue_matching
from engage.store import AuditLog, Message, MessageEvent, MessageState
from tests.delivery_kit import Kit, build_kit

S = MessageState
ACTOR = "cli:ana"


@pytest.fixture
def kit(db_url: str, tmp_path: Path) -> Kit:
    outbox = FileChannel(tmp_path / "outbox")
    return build_kit(db_url, tmp_path / "templates", {"sms": outbox, "email": outbox})


def dead(
    kit: Kit,
    state: MessageState = S.FAILED,
    reason: str = "permanent: twilio 21211: invalid number",
    *,
    code: str | None = "21211",
    provider_status: str | None = None,
    ago: timedelta = timedelta(minutes=5),
    channel: str = "sms",
) -> int:
    """A message that went through the pipeline and ended in `state`."""
    mid = kit.message(kit.patient(), channel=channel)
    with kit.sessions.begin() as s:
        m = s.get_one(Message, mid)
        m.state, m.reason, m.last_error_code, m.attempts = state, reason, code, 3
        m.provider, m.provider_id, m.provider_status = "twilio", f"SM{mid}", provider_status
        m.updated_at = kit.clock.now - ago
    return mid


def requeue_now(kit: Kit, *ids: int) -> list:
    with kit.sessions.begin() as s:
        return requeue(s, ids, ACTOR, kit.clock.now)


def test_list_shows_failed_undelivered_and_flagged_messages_newest_first(kit: Kit) -> None:
    old = dead(kit, ago=timedelta(hours=3))
    bounced = dead(
        kit, S.UNDELIVERED, "carrier: 30006 landline", code="30006", ago=timedelta(hours=2)
    )
    flagged = dead(
        kit, S.FLAGGED, "sms closed and no other open channel: staff must call", code=None
    )
    kit.message(kit.patient())  # scheduled: not a dead letter
    with kit.sessions() as s:
        rows = list_failed(s, FailedFilter())
    assert [r.id for r in rows] == [flagged, bounced, old]
    assert [r.state for r in rows] == ["flagged", "undelivered", "failed"]
    assert rows[1].reason == "carrier: 30006 landline" and rows[1].error_code == "30006"


def test_list_filters_by_reason_text_or_exact_vendor_code_and_by_age(kit: Kit) -> None:
    invalid = dead(kit)
    timeout = dead(
        kit,
        reason="gave up after 3 attempts: twilio: timed out",
        code="timeout",
        ago=timedelta(days=2),
    )
    with kit.sessions() as s:
        assert [r.id for r in list_failed(s, FailedFilter(reason="INVALID NUMBER"))] == [invalid]
        assert [r.id for r in list_failed(s, FailedFilter(reason="timeout"))] == [timeout]
        recent = FailedFilter(since=kit.clock.now - timedelta(days=1))
        assert [r.id for r in list_failed(s, recent)] == [invalid]


def test_requeue_puts_a_failed_message_back_due_now_with_a_fresh_budget(kit: Kit) -> None:
    mid = dead(kit)
    [result] = requeue_now(kit, mid)
    assert result.outcome is Outcome.REQUEUED
    message = kit.get(mid)
    assert message.state == S.SCHEDULED and message.due_at == kit.clock.now
    assert message.reason == f"requeued by {ACTOR}" and message.attempts == 0
    assert message.provider_id is None  # recovery must not take the old id for a new acceptance


def test_requeue_is_audited_with_the_actor_and_the_old_values(kit: Kit) -> None:
    mid = dead(kit)
    requeue_now(kit, mid)
    with kit.sessions() as s:
        event = s.scalars(select(MessageEvent).where(MessageEvent.message_id == mid)).all()[-1]
        row = s.scalars(select(AuditLog).where(AuditLog.entity_id == str(mid))).one()
    assert (event.from_state, event.to_state, event.actor) == ("failed", "scheduled", ACTOR)
    assert (row.actor, row.action, row.entity) == (ACTOR, "message.requeue", "message")
    assert row.before is not None and row.after is not None
    assert row.before["attempts"] == 3 and row.before["provider_id"] == f"SM{mid}"
    assert row.after["state"] == "scheduled"


def test_a_requeued_message_is_sent_again_by_the_next_dispatch(kit: Kit) -> None:
    mid = dead(kit, S.UNDELIVERED, "carrier: 30003 unreachable", code="30003")
    requeue_now(kit, mid)
    assert kit.run_due() == 1
    message = kit.get(mid)
    assert message.state == S.SENT and message.provider_id == f"file-{mid}"


@pytest.mark.parametrize("status", ["delivered", "read", "Delivered"])
def test_requeue_refuses_a_message_the_provider_reports_delivered(kit: Kit, status: str) -> None:
    mid = dead(kit, S.UNDELIVERED, "carrier: 30005", provider_status=status)
    [result] = requeue_now(kit, mid)
    assert result.outcome is Outcome.REFUSED
    assert result.line() == (
        f"message {mid}: refused: twilio reports it {status.lower()}: requeueing would send it twice"
    )
    assert kit.get(mid).state == S.UNDELIVERED
    with kit.sessions() as s:
        assert s.scalars(select(AuditLog).where(AuditLog.entity_id == str(mid))).all() == []


def test_requeue_refuses_messages_that_are_not_dead_letters_and_unknown_ids(kit: Kit) -> None:
    sent = dead(kit, S.SENT, "")
    waiting = kit.message(kit.patient())
    results = requeue_now(kit, sent, waiting, 999_999)
    assert [r.outcome for r in results] == [Outcome.REFUSED, Outcome.REFUSED, Outcome.NOT_FOUND]
    assert results[0].detail == "it is sent, not failed, undelivered or flagged"
    assert kit.get(sent).state == S.SENT and kit.get(waiting).state == S.SCHEDULED


def test_requeue_refuses_a_message_that_was_delivered_before_it_failed(kit: Kit) -> None:
    mid = dead(kit)
    with kit.sessions.begin() as s:
        s.add(MessageEvent(message_id=mid, from_state="sent", to_state="delivered", actor="twilio"))
    [result] = requeue_now(kit, mid)
    assert result.outcome is Outcome.REFUSED and "delivered once already" in result.detail


def test_requeue_all_with_a_reason_touches_only_the_matching_messages(kit: Kit) -> None:
    invalid = dead(kit)
    timeouts = [
        dead(kit, reason="gave up after 3 attempts: twilio: timed out", code="timeout")
        for _ in range(2)
    ]
    with kit.sessions.begin() as s:
        results = requeue_matching(
            s, FailedFilter(reason="timeout", limit=None), ACTOR, kit.clock.now
        )
    assert sorted(r.message_id for r in results) == sorted(timeouts)
    assert {kit.get(m).state for m in timeouts} == {S.SCHEDULED}
    assert kit.get(invalid).state == S.FAILED
