"""One appointment change's re-plan, in memory, then written set-wise (`engage.enrollment.setwise`).

`Change.follow` is `follow_and_lock` and `Change.notify` `notify_change` on plain rows: the same
events synced, the same keys re-planned by the pure planner, the same notices; `write` stores
it all in a few statements, message rows through their owner (`engage.store.message_states`).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Table, and_, bindparam, false, insert, or_, select, update
from sqlalchemy.orm import Session

from engage.enrollment.anchors import END, START
from engage.enrollment.notices import SUPERSEDED
from engage.enrollment.replan import appointment_id as keyed_appointment
from engage.planning.planner import AnchorEvent, PlannedMessage, Recipient, plan
from engage.planning.reasons import with_move
from engage.schedule.models import REPEATING_ANCHORS, Schedule
from engage.store.appointments import AppointmentState
from engage.store.audit import AuditLog
from engage.store.enrollments import EnrollmentEvent, EnrollmentState
from engage.store.message_states import Replanned, create_many, move_many, reschedule_many
from engage.store.messages import PENDING, UNSENT, Message, MessageState

_EVENT = cast(Table, EnrollmentEvent.__table__)
_MESSAGE = cast(Table, Message.__table__)
_AUDIT = cast(Table, AuditLog.__table__)


@dataclass(frozen=True)
class Who:
    """The patient as planning needs them."""

    id: int
    timezone: str
    channels: tuple[str, ...]  # consented, preferred first (`consented_channels`)


@dataclass
class Appt:
    id: int
    starts_at: datetime
    ends_at: datetime
    state: AppointmentState

    @property
    def event_key(self) -> str:
        return f"appointment:{self.id}"


@dataclass
class Event:
    """An enrollment_event row (id None: not stored yet; `dirty`: stored, changed since)."""

    id: int | None
    name: str
    at: datetime
    key: str
    occurrence: int
    cancelled: bool
    dirty: bool = False


@dataclass
class Enrolled:
    id: int
    sequence: str
    state: EnrollmentState
    events: list[Event] = field(default_factory=list)


@dataclass
class Stored:
    """A locked message row, its state kept current as this re-plan changes it."""

    id: int
    enrollment_id: int
    step_id: str
    event_key: str
    status: MessageState  # as read, then as this re-plan leaves it (written by the owner)
    due_at: datetime
    channel: str
    occurrence: int
    template: str
    critical: bool
    appointment_id: int | None


class Change:
    """One appointment change's writes, gathered in memory and written by `write`."""

    def __init__(
        self, session: Session, schedule: Schedule, who: Who, now: datetime, actor: str
    ) -> None:
        self.session, self.schedule, self.who, self.now, self.actor = (
            session,
            schedule,
            who,
            now,
            actor,
        )
        self.recipient = Recipient(who.timezone, who.channels)
        self.audits: list[dict[str, Any]] = []
        self.created: list[dict[str, Any]] = []
        self.replanned: list[Replanned] = []
        self.moving: dict[tuple[MessageState, MessageState, str], list[int]] = defaultdict(list)
        self.earlier: list[Stored] = []
        self.touched: list[Enrolled] = []

    def follow(
        self,
        among: list[Enrolled],
        ranked: list[Appt],
        reason: str,
        withdraw: frozenset[MessageState],
        *,
        notice: Appt | None = None,
    ) -> None:
        """`follow_and_lock`: sync every enrollment's appointment events, lock the changed keys'
        messages (and `notice`'s earlier notices), re-plan those keys."""
        wanted = _appointment_events(ranked)
        changed = {e.id: keys for e in among if (keys := _sync(e, wanted))}
        self.touched = [e for e in among if e.id in changed]
        keys = set().union(*changed.values()) if changed else set()
        stored = self._lock([e.id for e in self.touched], keys, notice)
        for enrolled in self.touched:
            mine, keys = stored.get(enrolled.id, []), changed[enrolled.id]
            anchors = self.schedule.sequence(enrolled.sequence).anchors
            if anchors.isdisjoint(REPEATING_ANCHORS) and not any(m.event_key in keys for m in mine):
                continue
            self._replan(enrolled, keys, mine, reason, withdraw)

    def notify(self, among: list[Enrolled], appointment: Appt, anchor: str) -> None:
        """`notify_change`: the first enrollment with the notice step plans it; earlier ones
        still waiting are withdrawn."""
        sequences = self.schedule.sequences
        enrolled = next((e for e in among if anchor in sequences[e.sequence].anchors), None)
        if enrolled is None:
            return
        for message in self.earlier:
            if message.status in UNSENT:
                self._move(message, MessageState.CANCELLED, SUPERSEDED)
        prefix = f"{appointment.event_key}:{anchor.split('.')[1]}:"
        key = f"{prefix}{sum(1 for e in enrolled.events if e.key.startswith(prefix)) + 1}"
        enrolled.events.append(Event(None, anchor, self.now, key, 1, False))
        if all(e is not enrolled for e in self.touched):
            self.touched.append(enrolled)
        self._replan(enrolled, {key}, [], anchor.replace(".", " "), PENDING)

    def _lock(
        self, enrollment_ids: list[int], keys: set[str], notice: Appt | None
    ) -> dict[int, list[Stored]]:
        m = _MESSAGE
        mine = (
            and_(m.c.enrollment_id.in_(enrollment_ids), m.c.event_key.in_(sorted(keys)))
            if enrollment_ids and keys
            else false()
        )
        where = mine
        if notice is not None:
            earlier = and_(
                m.c.appointment_id == notice.id,
                m.c.state.in_(UNSENT),
                m.c.event_key.like(f"{notice.event_key}:%"),
            )
            where = or_(mine, earlier)
        elif not (enrollment_ids and keys):
            return {}
        columns = (m.c.id, m.c.enrollment_id, m.c.step_id, m.c.event_key, m.c.state, m.c.due_at)
        query = (
            select(*columns, m.c.channel, m.c.occurrence, m.c.template, m.c.critical)
            .add_columns(m.c.appointment_id)
            .where(where)
            .order_by(m.c.id)
            .with_for_update()
        )
        found: dict[int, list[Stored]] = defaultdict(list)
        ids = set(enrollment_ids)
        notice_id, prefix = (notice.id, f"{notice.event_key}:") if notice else (None, "")
        for row in self.session.connection().execute(query):
            message = Stored(*row)
            if notice_id is not None and _is_notice(message, notice_id, prefix):
                self.earlier.append(message)
            if message.enrollment_id in ids and message.event_key in keys:
                found[message.enrollment_id].append(message)
        return found

    def _replan(
        self,
        enrolled: Enrolled,
        keys: set[str],
        stored: Sequence[Stored],
        reason: str,
        withdraw: frozenset[MessageState],
    ) -> None:
        """`replan` of `keys` only: the same creates, moves, skips and withdrawals."""
        sequence = self.schedule.sequences[enrolled.sequence]
        events = [
            AnchorEvent(e.name, e.at, e.key, e.occurrence)
            for e in enrolled.events
            if not e.cancelled
        ]
        quiet = self.schedule.clinic.quiet_hours
        planned = plan(sequence, self.recipient, events, quiet, self.now)
        rows = {(m.step_id, m.event_key): m for m in stored if m.event_key in keys}
        for item in planned:
            if item.event_key not in keys:
                continue
            message = rows.pop((item.step_id, item.event_key), None)
            if message is None:
                self.created.append(self._row(enrolled, item, reason))
            elif message.status == MessageState.SCHEDULED:
                self._update(message, item, reason)
        for message in rows.values():
            if message.status in withdraw:
                self._move(message, MessageState.CANCELLED, reason)

    def _row(self, enrolled: Enrolled, item: PlannedMessage, reason: str) -> dict[str, Any]:
        return {
            "state": _skip_state(item) if item.skip_reason else MessageState.SCHEDULED,
            "reason": item.skip_reason or with_move(reason, item.moved),
            "patient_id": self.who.id,
            "enrollment_id": enrolled.id,
            "appointment_id": keyed_appointment(item.event_key),
            "sequence": enrolled.sequence,
            "step_id": item.step_id,
            "event_key": item.event_key,
            "occurrence": item.occurrence,
            "channel": item.channel,
            "template": item.template,
            "critical": item.critical,
            "due_at": item.due_at,
            "attempts": 0,
        }

    def _update(self, message: Stored, item: PlannedMessage, reason: str) -> None:
        if item.skip_reason:
            self._move(message, _skip_state(item), item.skip_reason)
            return
        steps = (item.occurrence, item.template, item.critical)
        why = with_move(reason, item.moved)
        moved = (message.due_at, message.channel) != (item.due_at, item.channel)
        if not moved and steps == (message.occurrence, message.template, message.critical):
            return
        self.replanned.append(
            Replanned(message.id, message.due_at, item.due_at, item.channel, *steps, why, moved)
        )

    def _move(self, message: Stored, to: MessageState, reason: str) -> None:
        self.moving[(message.status, to, reason)].append(message.id)
        message.status = to

    def write(self) -> None:
        """Everything gathered: events, messages, audit rows (a few statements in all)."""
        session, now, actor = self.session, self.now, self.actor
        connection = session.connection()
        changed = [e for en in self.touched for e in en.events if e.dirty and e.id is not None]
        if changed:
            connection.execute(
                update(_EVENT)
                .where(_EVENT.c.id == bindparam("e_id"))
                .values(
                    at=bindparam("e_at"),
                    occurrence=bindparam("e_occurrence"),
                    cancelled=bindparam("e_cancelled"),
                ),
                [
                    {"e_id": e.id, "e_at": e.at, "e_occurrence": e.occurrence}
                    | {"e_cancelled": e.cancelled}
                    for e in changed
                ],
            )
        new = [(en.id, e) for en in self.touched for e in en.events if e.id is None]
        if new:
            connection.execute(
                insert(_EVENT),
                [
                    {"enrollment_id": eid, "name": e.name, "at": e.at, "key": e.key}
                    | {"occurrence": e.occurrence, "cancelled": e.cancelled}
                    for eid, e in new
                ],
            )
        for (from_state, to_state, reason), ids in self.moving.items():
            move_many(session, ids, from_state, to_state, reason, actor, now)
        reschedule_many(session, self.replanned, actor, now)
        create_many(session, self.created, actor, now)
        if self.audits:
            connection.execute(insert(_AUDIT), self.audits)


def _sync(enrolled: Enrolled, wanted: list[AnchorEvent]) -> set[str]:
    """`sync_appointment_events` on the plain rows."""
    rows = {(row.name, row.key): row for row in enrolled.events}
    changed: set[str] = set()
    for event in wanted:
        row = rows.get((event.name, event.key))
        if row is None:
            enrolled.events.append(
                Event(None, event.name, event.at, event.key, event.occurrence, False)
            )
            changed.add(event.key)
        elif (row.at, row.occurrence, row.cancelled) != (event.at, event.occurrence, False):
            row.at, row.occurrence, row.cancelled, row.dirty = (
                event.at,
                event.occurrence,
                False,
                True,
            )
            changed.add(event.key)
    slots = {(event.name, event.key) for event in wanted}
    for slot, row in rows.items():
        if row.name in REPEATING_ANCHORS and slot not in slots and not row.cancelled:
            row.cancelled, row.dirty = True, True
            changed.add(row.key)
    return changed


def _is_notice(message: Stored, appointment_id: int, prefix: str) -> bool:
    """One of the appointment's notices not yet sent (`earlier_notices`' test)."""
    return (
        message.appointment_id == appointment_id
        and message.status in UNSENT
        and message.event_key.startswith(prefix)
    )


def _appointment_events(ranked: list[Appt]) -> list[AnchorEvent]:
    events = []
    for rank, appointment in enumerate(ranked, start=1):
        key = appointment.event_key
        events.append(AnchorEvent(START, appointment.starts_at, key, rank))
        events.append(AnchorEvent(END, appointment.ends_at, key, rank))
    return events


def _skip_state(item: PlannedMessage) -> MessageState:
    return MessageState.FLAGGED if item.critical else MessageState.SUPPRESSED
