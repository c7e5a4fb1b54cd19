"""Keeping an enrollment's outbox rows in step with what the planner says now.

One (step, event key) pair is one row for the enrollment's whole life: re-planning moves a still
`scheduled` row (same id, new due time, an event row saying why), creates rows for new pairs and
withdraws pending rows the plan no longer wants. Rows past `scheduled` are never touched.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, false, or_, select
from sqlalchemy.orm import Session

from engage.enrollment.anchors import anchor_events
from engage.enrollment.common import get_sequence
from engage.planning.planner import PlannedMessage, Recipient, plan
from engage.planning.reasons import with_move
from engage.schedule.models import Schedule
from engage.store.enrollments import Enrollment
from engage.store.message_states import create, reschedule, transition
from engage.store.messages import PENDING, Message, MessageState
from engage.store.patients import Patient, consented_channels

Selector = Callable[[str, str], bool]  # (step anchor, event key) -> is this pair re-planned?


@dataclass(frozen=True)
class Change:
    """What re-plans an enrollment: when, by whom, the reason its messages' events carry, and
    which states of a message the plan no longer holds it withdraws (a cancelled appointment
    withdraws every unsent one, not only the pending)."""

    now: datetime
    actor: str
    reason: str
    withdraw: frozenset[MessageState] = PENDING


@dataclass(frozen=True)
class Replanned:
    """How many rows a re-plan created, moved, withdrew (cancelled) and skipped (flag/suppress)."""

    created: int = 0
    moved: int = 0
    cancelled: int = 0
    skipped: int = 0


def replan(
    session: Session,
    schedule: Schedule,
    enrollment: Enrollment,
    patient: Patient,
    change: Change,
    *,
    only: Selector | None = None,
    stored: Sequence[Message] | None = None,
) -> Replanned:
    """Plan `enrollment` again and reconcile its messages (those `only` selects, or all).

    `stored` is the enrollment's messages when the caller locked them already (`locked_messages`
    for several enrollments in one query; those `only` selects are enough); otherwise they are
    read and locked here."""
    sequence = get_sequence(schedule, enrollment.sequence)
    anchors = {step.id: step.anchor for step in sequence.steps}

    def chosen(step_id: str, key: str) -> bool:
        return only is None or only(anchors.get(step_id, ""), key)

    recipient = Recipient(patient.timezone, consented_channels(patient))
    now, actor, reason = change.now, change.actor, change.reason
    planned = plan(sequence, recipient, anchor_events(enrollment), schedule.clinic.quiet_hours, now)
    if stored is None:
        stored = session.scalars(
            locked(select(Message).where(Message.enrollment_id == enrollment.id))
        ).all()
    rows = {(m.step_id, m.event_key): m for m in stored if chosen(m.step_id, m.event_key)}
    counts = {"created": 0, "moved": 0, "cancelled": 0, "skipped": 0}
    for item in planned:
        if not chosen(item.step_id, item.event_key):
            continue
        message = rows.pop((item.step_id, item.event_key), None)
        if message is None:
            message = _create(session, enrollment, item, now=now, actor=actor, reason=reason)
            counts["created" if message.state == MessageState.SCHEDULED else "skipped"] += 1
        elif message.state == MessageState.SCHEDULED:
            outcome = _update(session, message, item, now=now, actor=actor, reason=reason)
            if outcome:
                counts[outcome] += 1
    for message in rows.values():
        if message.state in change.withdraw:
            transition(session, message, MessageState.CANCELLED, reason, actor, at=now)
            counts["cancelled"] += 1
    return Replanned(**counts)


def locked(query: Select[Message]) -> Select[Message]:
    """Lock the rows read and read their latest state: a dispatcher claiming with SKIP LOCKED
    passes over them until the re-plan commits, so neither overwrites the other's change.
    (SQLite has no row locks; its single writer gives the same guarantee.)"""
    return query.with_for_update().order_by(Message.id).execution_options(populate_existing=True)


def locked_messages(
    session: Session, enrollment_ids: Sequence[int], keys: Collection[str] | None = None
) -> dict[int, list[Message]]:
    """The messages of these enrollments (only those of event `keys` when given), locked as
    `locked` does, in one query."""
    found: dict[int, list[Message]] = defaultdict(list)
    if enrollment_ids:
        query = select(Message).where(Message.enrollment_id.in_(enrollment_ids))
        if keys is not None:
            query = query.where(Message.event_key.in_(sorted(keys)))
        for message in session.scalars(locked(query)):
            found[message.enrollment_id].append(message)
    return found


@dataclass(frozen=True)
class AlsoLock:
    """More messages to lock in the same read as `locked_messages_and`'s: those `where` selects
    in SQL, told apart from the others by `test` (the same condition in Python)."""

    where: ColumnElement[bool]
    test: Callable[[Message], bool]


def locked_messages_and(
    session: Session, enrollment_ids: Sequence[int], keys: Collection[str], also: AlsoLock
) -> tuple[dict[int, list[Message]], list[Message]]:
    """`locked_messages` for event `keys`, and the messages `also` selects, in one locking read:
    (the first by enrollment id, the others in id order)."""
    found: dict[int, list[Message]] = defaultdict(list)
    extra: list[Message] = []
    ids, wanted = set(enrollment_ids), set(keys)
    mine = (
        and_(Message.enrollment_id.in_(sorted(ids)), Message.event_key.in_(sorted(wanted)))
        if ids and wanted
        else false()
    )
    for message in session.scalars(locked(select(Message).where(or_(mine, also.where)))):
        if also.test(message):
            extra.append(message)
        if message.enrollment_id in ids and message.event_key in wanted:
            found[message.enrollment_id].append(message)
    return found, extra


def _skip_state(item: PlannedMessage) -> MessageState:
    # A critical message that cannot go out needs a person; anything else is recorded as skipped.
    return MessageState.FLAGGED if item.critical else MessageState.SUPPRESSED


def planned_row(
    patient_id: int,
    enrollment_id: int,
    sequence: str,
    item: PlannedMessage,
    reason: str,
    event_key: str | None = None,
) -> dict[str, Any]:
    """The columns of the row a planned message becomes, as every path storing one writes them
    (re-plan, bulk enrollment, the HL7 set-wise path): a skipped step flagged (critical) or
    suppressed with its skip reason, else scheduled with `reason` and the planner's note of a
    moved time. `event_key` stands for the item's (bulk enrollment's real appointment keys)."""
    key = item.event_key if event_key is None else event_key
    return {
        "state": _skip_state(item) if item.skip_reason else MessageState.SCHEDULED,
        "reason": item.skip_reason or with_move(reason, item.moved),
        "patient_id": patient_id,
        "enrollment_id": enrollment_id,
        "appointment_id": appointment_id(key),
        "sequence": sequence,
        "step_id": item.step_id,
        "event_key": key,
        "occurrence": item.occurrence,
        "channel": item.channel,
        "template": item.template,
        "critical": item.critical,
        "due_at": item.due_at,
        "attempts": 0,
    }


def _create(
    session: Session,
    enrollment: Enrollment,
    item: PlannedMessage,
    *,
    now: datetime,
    actor: str,
    reason: str,
) -> Message:
    row = planned_row(enrollment.patient_id, enrollment.id, enrollment.sequence, item, reason)
    return create(session, row.pop("state"), row.pop("reason"), actor, now, **row)


def _update(
    session: Session,
    message: Message,
    item: PlannedMessage,
    *,
    now: datetime,
    actor: str,
    reason: str,
) -> str | None:
    if item.skip_reason:
        transition(session, message, _skip_state(item), item.skip_reason, actor, at=now)
        return "skipped"
    message.occurrence, message.template, message.critical = (
        item.occurrence,
        item.template,
        item.critical,
    )
    if (message.due_at, message.channel) == (item.due_at, item.channel):
        return None
    due_from = message.due_at
    why = with_move(reason, item.moved)
    event = reschedule(session, message, item.due_at, why, actor, channel=item.channel, at=now)
    event.due_from, event.due_to = due_from, item.due_at
    return "moved"


def appointment_id(event_key: str) -> int | None:
    """The appointment an event key names (`appointment:7`, `appointment:7:moved:2`: 7)."""
    kind, _, rest = event_key.partition(":")
    value = rest.split(":")[0]
    return int(value) if kind == "appointment" and value.isdigit() else None
