"""Dead letters: list the messages that failed, bounced or were flagged, and requeue them.

A requeue puts a message back to `scheduled`, due now, with a fresh retry budget, audited with
the operator's name. It is refused when anything says the message did reach the patient (the
provider reported it delivered or read): sending it again would be the duplicate we promise
never to make. The previous provider id, status and attempt count stay in the audit row.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import Select, or_, select
from sqlalchemy.orm import Session

from engage.store.audit import audit
from engage.store.message_states import transition
from engage.store.messages import Message, MessageEvent, MessageState

S = MessageState
DEAD = (S.FAILED, S.UNDELIVERED, S.FLAGGED)
# Provider statuses that prove the message reached the recipient (Twilio and SendGrid words).
DELIVERED_STATUSES = frozenset({"delivered", "read", "open", "click"})


@dataclass(frozen=True)
class FailedFilter:
    """Which dead letters: changed since `since`, whose reason contains `reason` (or whose
    vendor error code is exactly `reason`), at most `limit` of them (None: all)."""

    since: datetime | None = None
    reason: str | None = None
    limit: int | None = 200


class FailedMessage(BaseModel):
    # A dead letter as operators see it, read from the message row's attributes.
    model_config = ConfigDict(from_attributes=True, frozen=True)

    id: int
    patient_id: int
    enrollment_id: int
    sequence: str
    step_id: str
    channel: str
    critical: bool
    state: str
    reason: str
    error_code: str | None = Field(validation_alias="last_error_code")
    attempts: int
    provider: str | None
    provider_status: str | None
    due_at: datetime
    updated_at: datetime


class Outcome(StrEnum):
    REQUEUED = "requeued"
    REFUSED = "refused"
    NOT_FOUND = "not found"


@dataclass(frozen=True)
class RequeueResult:
    message_id: int
    outcome: Outcome
    detail: str

    def line(self) -> str:
        return f"message {self.message_id}: {self.outcome}: {self.detail}"


def _query(flt: FailedFilter) -> Select[Message]:
    query = select(Message).where(Message.state.in_(DEAD))
    if flt.since is not None:
        query = query.where(Message.updated_at >= flt.since)
    if flt.reason:
        query = query.where(
            or_(
                Message.reason.icontains(flt.reason, autoescape=True),
                Message.last_error_code == flt.reason,
            )
        )
    query = query.order_by(Message.updated_at.desc(), Message.id.desc())
    return query.limit(flt.limit) if flt.limit is not None else query


def list_failed(session: Session, flt: FailedFilter) -> list[FailedMessage]:
    """Dead letters matching `flt`, most recently changed first."""
    return [FailedMessage.model_validate(m) for m in session.scalars(_query(flt))]


def requeue(session: Session, ids: Iterable[int], actor: str, now: datetime) -> list[RequeueResult]:
    """Requeue each message in `ids` that may be sent again (caller commits), one result each."""
    wanted = list(dict.fromkeys(ids))
    query = select(Message).where(Message.id.in_(wanted)).order_by(Message.id)
    found = {m.id: m for m in session.scalars(query.with_for_update())}
    delivered = _ids_with_delivered_event(session, list(found))
    results = []
    for message_id in wanted:
        message = found.get(message_id)
        if message is None:
            results.append(RequeueResult(message_id, Outcome.NOT_FOUND, "no such message"))
            continue
        refusal = _refusal(message, message_id in delivered)
        if refusal:
            results.append(RequeueResult(message_id, Outcome.REFUSED, refusal))
            continue
        _requeue_one(session, message, actor, now)
        results.append(RequeueResult(message_id, Outcome.REQUEUED, f"due now ({actor})"))
    return results


def requeue_matching(
    session: Session, flt: FailedFilter, actor: str, now: datetime
) -> list[RequeueResult]:
    """Requeue every dead letter that `flt` selects (`--all --reason X`)."""
    ids = session.scalars(_query(flt).with_only_columns(Message.id)).all()
    return requeue(session, ids, actor, now)


def _refusal(message: Message, delivered_event: bool) -> str | None:
    status = (message.provider_status or "").lower()
    if status in DELIVERED_STATUSES:
        return (
            f"{message.provider or 'the provider'} reports it {status}: "
            "requeueing would send it twice"
        )
    if message.delivered_at is not None or delivered_event:
        return "it was delivered once already: requeueing would send it twice"
    if message.state not in DEAD:
        return f"it is {message.state}, not failed, undelivered or flagged"
    return None


def _ids_with_delivered_event(session: Session, ids: list[int]) -> set[int]:
    if not ids:
        return set()
    rows = session.scalars(
        select(MessageEvent.message_id).where(
            MessageEvent.message_id.in_(ids), MessageEvent.to_state == S.DELIVERED.value
        )
    )
    return set(rows)


def _requeue_one(session: Session, message: Message, actor: str, now: datetime) -> None:
    before = {
        "state": message.state,
        "reason": message.reason,
        "attempts": message.attempts,
        "due_at": message.due_at,
        "provider": message.provider,
        "provider_id": message.provider_id,
        "provider_status": message.provider_status,
        "last_error_code": message.last_error_code,
    }
    # A fresh retry budget (the old count is in the audit row); the old provider id would make
    # recovery believe a new, interrupted send had been accepted.
    transition(
        session,
        message,
        S.SCHEDULED,
        f"requeued by {actor}",
        actor,
        at=now,
        due_at=now,
        attempts=0,
        provider=None,
        provider_id=None,
        provider_status=None,
        failing_since=None,
    )
    audit(
        session,
        actor=actor,
        action="message.requeue",
        entity="message",
        entity_id=message.id,
        before=before,
        after={"state": S.SCHEDULED, "due_at": now, "attempts": 0},
        at=now,
    )
