"""The one owner of a message row's state: every change of it, single or bulk, goes through here.

Each write is checked against `ALLOWED_TRANSITIONS` and records its `MessageEvent` the same way
(`_event_fields`), whoever asks: the dispatcher claiming, a worker sending and storing receipts,
a provider's delivery event, pause/unenroll, a re-plan, an operator's requeue, recovery.
`tests/unit/test_message_state_owner.py` fails if another module writes message state.

Bulk moves are conditional (`WHERE state = <from>`) and return the ids they changed, so a caller
racing another worker or dispatcher learns exactly which rows are its own.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import (
    ColumnElement,
    Integer,
    ScalarSelect,
    Table,
    any_,
    bindparam,
    case,
    insert,
    or_,
    select,
    update,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Session

from engage.errors import Conflict
from engage.store.base import utcnow
from engage.store.bulk_insert import insert_returning_ids, insert_rows
from engage.store.messages import ALLOWED_TRANSITIONS, Message, MessageEvent, MessageState
from engage.store.patients import Patient

S = MessageState
# The timestamp a message records on entering each state.
_STAMPS = {
    S.QUEUED: "queued_at",
    S.SENDING: "sending_at",
    S.SENT: "sent_at",
    S.DELIVERED: "delivered_at",
}
# Columns a state change may carry with it; anything else on the row is not this module's to set.
_CHANGEABLE = frozenset(
    {
        "due_at",
        "channel",
        "attempts",
        "provider",
        "provider_id",
        "provider_status",
        "last_error_code",
        "holder",
        "lease_until",
        "failing_since",
        "staff_alerted_at",
        "uncertain_since",
        "uncertain_until",
    }
)


def _check(message_id: object, from_state: MessageState, to_state: MessageState) -> None:
    if to_state not in ALLOWED_TRANSITIONS[from_state]:
        raise Conflict(f"message {message_id}: cannot go from {from_state} to {to_state}")


def _check_changes(changes: Mapping[str, object]) -> None:
    unknown = set(changes) - _CHANGEABLE
    if unknown:
        raise ValueError(f"not a column a state change sets: {', '.join(sorted(unknown))}")


def _event_fields(
    from_state: MessageState | None, to_state: MessageState, reason: str, actor: str, at: datetime
) -> dict[str, Any]:
    """The one shape of an event row (single writes add it as an object, bulk ones insert it)."""
    return {
        "at": at,
        "from_state": from_state.value if from_state is not None else None,
        "to_state": to_state.value,
        "reason": reason,
        "actor": actor,
    }


def transition(
    session: Session,
    message: Message,
    to_state: MessageState,
    reason: str,
    actor: str,
    *,
    at: datetime | None = None,
    **changes: Any,
) -> MessageEvent:
    """Move `message` to `to_state` (with `changes` to its columns), in the caller's transaction.

    Raises Conflict when the state machine does not allow the move (e.g. cancelling a message
    already sent): the caller loaded a stale state, and guessing would corrupt the audit trail.
    """
    at = at or utcnow()
    from_state = MessageState(message.state)
    _check(message.id, from_state, to_state)
    _check_changes(changes)
    for name, value in changes.items():
        setattr(message, name, value)
    message.state = to_state
    message.reason = reason
    message.updated_at = at
    stamp = _STAMPS.get(to_state)
    if stamp:
        setattr(message, stamp, at)
    event = MessageEvent(message=message, **_event_fields(from_state, to_state, reason, actor, at))
    session.add(event)
    return event


def reschedule(
    session: Session,
    message: Message,
    due_at: datetime,
    reason: str,
    actor: str,
    *,
    channel: str | None = None,
    at: datetime | None = None,
) -> MessageEvent:
    """Give a still-scheduled message a new due time (and channel), recording why.

    The message keeps its id, so links and the audit trail follow it; the event row reads
    scheduled -> scheduled with the reason (e.g. "appointment moved").
    """
    if message.state != S.SCHEDULED:
        raise Conflict(f"message {message.id}: only a scheduled message can be re-planned")
    at = at or utcnow()
    message.due_at = due_at
    if channel is not None:
        message.channel = channel
    message.reason = reason
    message.updated_at = at
    event = MessageEvent(
        message=message, **_event_fields(S.SCHEDULED, S.SCHEDULED, reason, actor, at)
    )
    session.add(event)
    return event


def create(
    session: Session, state: MessageState, reason: str, actor: str, at: datetime, **columns: Any
) -> Message:
    """Add a new message in `state` (scheduled, or suppressed/flagged when planned as skipped)
    with its first event: how it entered the outbox (from no state to its first)."""
    message = Message(state=state, reason=reason, created_at=at, updated_at=at, **columns)
    session.add(message)
    session.add(MessageEvent(message=message, **_event_fields(None, state, reason, actor, at)))
    return message


def create_many(
    session: Session, rows: Sequence[Mapping[str, Any]], actor: str, at: datetime
) -> list[int]:
    """`create` for many new messages at once (bulk enrollment): one multi-row message INSERT
    and one event INSERT, whatever the count. Each row names its `state` and `reason`
    with the columns `create` takes; returns the new ids in the order of `rows`."""
    if not rows:
        return []
    ids = insert_returning_ids(
        session, Message, [{**row, "created_at": at, "updated_at": at} for row in rows]
    )
    insert_rows(
        session,
        MessageEvent,
        [
            {"message_id": i, **_event_fields(None, S(row["state"]), row["reason"], actor, at)}
            for i, row in zip(ids, rows, strict=True)
        ],
    )
    return ids


def move_many(
    session: Session,
    ids: Sequence[int] | ScalarSelect[int],
    from_state: MessageState,
    to_state: MessageState,
    reason: str,
    actor: str,
    now: datetime,
    *,
    extra_where: Sequence[Any] = (),
    row_reason: str | None = None,
    **changes: Any,
) -> list[int]:
    """Move the messages among `ids` still in `from_state` to `to_state`; return those moved
    (in the order given).

    One conditional UPDATE ... RETURNING and one multi-row event INSERT, whatever the count:
    the hot paths (claiming, marking a batch `sending`, recovery) need no ORM objects.
    `changes` values may be SQL expressions (e.g. `Message.attempts + 1`). The row keeps
    `row_reason` when given (a plain send leaves it empty) and the event says `reason`.
    """
    _check("(bulk)", from_state, to_state)
    _check_changes(changes)
    if not isinstance(ids, ScalarSelect) and not ids:
        return []
    values: dict[str, Any] = {
        "state": to_state,
        "reason": reason if row_reason is None else row_reason,
        "updated_at": now,
        **changes,
    }
    stamp = _STAMPS.get(to_state)
    if stamp:
        values[stamp] = now
    result = session.execute(
        update(Message)
        .where(_among(session, ids), Message.state == from_state, *extra_where)
        .values(**values)
        .returning(Message.id)
        .execution_options(synchronize_session=False)
    )
    changed = set(result.scalars())
    moved = sorted(changed) if isinstance(ids, ScalarSelect) else [i for i in ids if i in changed]
    _insert_events(session, moved, from_state, to_state, reason, actor, now)
    return moved


def record_receipts(
    session: Session,
    provider: str,
    status: str,
    provider_ids: Mapping[int, str],
    actor: str,
    now: datetime,
    from_states: Sequence[MessageState] = (S.SENDING,),
) -> list[int]:
    """`sending -> sent` pairing each message with its provider id; return those moved.

    A message a status callback already moved on (delivered before our commit) keeps its state
    and only gains the provider id it lacked.
    """
    moved: list[int] = []
    for from_state in from_states:
        moved += move_many(
            session,
            [i for i in provider_ids if i not in moved],
            from_state,
            S.SENT,
            f"accepted by {provider}",
            actor,
            now,
            provider=provider,
            provider_id=case(dict(provider_ids), value=Message.id),
            row_reason="",
            provider_status=status,
            last_error_code=None,
            holder=None,
            lease_until=None,
            failing_since=None,
        )
    for message_id in provider_ids.keys() - set(moved):
        session.execute(
            update(Message)
            .where(Message.id == message_id, Message.provider_id.is_(None))
            .values(provider=provider, provider_id=provider_ids[message_id])
            .execution_options(synchronize_session=False)
        )
    return moved


def _among(session: Session, ids: Sequence[int] | ScalarSelect[int]) -> ColumnElement[bool]:
    """`Message.id` is one of `ids`. On PostgreSQL a list is ONE array parameter
    (`id = ANY(%(ids)s)`): an `IN` list binds a parameter per id, and psycopg neither prepares
    nor caches statements of more than 50 parameters, so it converted each batch's SQL again
    (~11% of the send path's CPU when profiled). SQLite has no arrays and keeps `IN`."""
    if isinstance(ids, ScalarSelect) or session.get_bind().dialect.name != "postgresql":
        return Message.id.in_(ids)
    return Message.id == any_(bindparam("ids", list(ids), type_=ARRAY(Integer), unique=True))


def _insert_events(
    session: Session,
    ids: Sequence[int],
    from_state: MessageState,
    to_state: MessageState,
    reason: str,
    actor: str,
    now: datetime,
) -> None:
    if ids:
        fields = _event_fields(from_state, to_state, reason, actor, now)
        session.execute(insert(MessageEvent), [{"message_id": i, **fields} for i in ids])


def hold_queued(
    session: Session, ids: Sequence[int], holder: str, now: datetime, until: datetime
) -> list[int]:
    """`holder` (a worker starting a task) takes those of `ids` still `queued` that no other
    live lease holds; return them. Not a state change: the lease says who has the row, so a
    worker killed before its batch is `sending` gives the rows back within a lease."""
    if not ids:
        return []
    free = or_(Message.holder.is_(None), Message.holder == holder, Message.lease_until < now)
    result = session.execute(
        update(Message)
        .where(_among(session, ids), Message.state == S.QUEUED, free)
        .values(holder=holder, lease_until=until)
        .returning(Message.id)
        .execution_options(synchronize_session=False)
    )
    return sorted(result.scalars())


def renew_leases(session: Session, holder: str, until: datetime) -> int:
    """Extend every lease `holder` has on a message it took (`queued`) or is sending."""
    result = session.execute(
        update(Message)
        .where(Message.holder == holder, Message.state.in_((S.QUEUED, S.SENDING)))
        .values(lease_until=until)
        .execution_options(synchronize_session=False)
    )
    return int(getattr(result, "rowcount", 0) or 0)


def claim_provider_record(
    session: Session, message_id: int, patient_id: int, provider: str, candidates: Sequence[str]
) -> str | None:
    """Pair a `sending` message with the first provider record no other message holds (the
    settlement of an uncertain attempt); return it, or None when every candidate is taken.

    The patient's row lock serializes the settlements of one recipient's messages, so two
    identical messages settled at once never take the same record.
    """
    if not candidates:
        return None
    session.execute(select(Patient.id).where(Patient.id == patient_id).with_for_update())
    taken = set(
        session.scalars(
            select(Message.provider_id).where(
                Message.provider == provider, Message.provider_id.in_(list(candidates))
            )
        )
    )
    free = next((sid for sid in candidates if sid not in taken), None)
    if free is not None:
        session.execute(
            update(Message)
            .where(Message.id == message_id, Message.state == S.SENDING)
            .values(provider=provider, provider_id=free)
        )
    return free


@dataclass(frozen=True)
class Replanned:
    """A scheduled message re-planned set-wise: `reschedule`'s change and its event; `moved`
    False when only its step details change (no event, `updated_at` as the ORM sets it)."""

    id: int
    due_from: datetime
    due_at: datetime
    channel: str
    occurrence: int
    template: str
    critical: bool
    reason: str
    moved: bool = True


def reschedule_many(session: Session, rows: Sequence[Replanned], actor: str, at: datetime) -> None:
    """`reschedule` for many messages: one UPDATE (still `scheduled` only) and one event INSERT."""
    table, connection = cast(Table, Message.__table__), session.connection()
    steps: dict[str, Any] = {k: bindparam(f"m_{k}") for k in ("occurrence", "template", "critical")}
    times: dict[str, Any] = {k: bindparam(f"m_{k}") for k in ("due_at", "channel", "reason")}
    for moved in (True, False):
        chosen = [row for row in rows if row.moved is moved]
        if chosen:
            names = [*steps, *times] if moved else list(steps)
            connection.execute(
                update(table)
                .where(table.c.id == bindparam("m_id"), table.c.state == S.SCHEDULED)
                .values(**steps, **(times | {"updated_at": at} if moved else {})),
                [{"m_id": r.id, **{f"m_{k}": getattr(r, k) for k in names}} for r in chosen],
            )
    fields = [(r, _event_fields(S.SCHEDULED, S.SCHEDULED, r.reason, actor, at)) for r in rows]
    events = [
        {**f, "message_id": r.id, "due_from": r.due_from, "due_to": r.due_at}
        for r, f in fields
        if r.moved
    ]
    if events:
        connection.execute(insert(cast(Table, MessageEvent.__table__)), events)
