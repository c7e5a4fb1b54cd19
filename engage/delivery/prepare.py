"""Before the call: read a batch, resolve each message's step once, decide, render, mark `sending`.

What a pending message takes from where (docs/delivery.md, "A pending message and an edited
schedule"): the plan, stored on the row, says which message it is and when (sequence, step,
event, occurrence, due time, channel, critical); everything it says and carries (template,
attachments, anchor, fallback channels, whether it must precede its event) comes from the
schedule loaded now, through the one step resolved here. A step no longer in the schedule has one
answer: the message is cancelled, as a re-plan would withdraw it.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy import Row, select
from sqlalchemy.orm import Session, sessionmaker
from structlog.contextvars import bound_contextvars

from engage.channels.base import Channel, Outgoing
from engage.delivery.compose import Composer
from engage.delivery.gate import Action, SendFacts, Verdict, decide
from engage.delivery.lease import LeaseKeeper
from engage.delivery.record import WORKER, set_state, withhold
from engage.errors import TemplateProblem
from engage.planning.localtime import local_day
from engage.schedule.models import Schedule, Step
from engage.store.appointments import Appointment, AppointmentState
from engage.store.enrollments import Enrollment, EnrollmentState
from engage.store.message_states import move_many
from engage.store.messages import Message, MessageState
from engage.store.patients import Patient, consented_channels

S = MessageState
_COUNTED = (S.SENDING, S.SENT, S.DELIVERED, S.UNDELIVERED)
STEP_GONE = "its step is no longer in the schedule"


@dataclass(frozen=True)
class Ready:
    """A message moved to `sending` and rendered: one provider call away from the patient."""

    outgoing: Outgoing
    provider: str
    due_at: datetime
    patient_id: int
    enrollment_id: int
    facts: SendFacts  # what the gate decided on; its time checks run again at the call
    # An earlier attempt's outcome is unknown since then: ask the provider before sending.
    uncertain_since: datetime | None = None
    uncertain_until: datetime | None = None  # the end of that window

    @property
    def ids(self) -> dict[str, int]:
        """What every log line about this send carries."""
        return {
            "message_id": self.outgoing.message_id,
            "patient_id": self.patient_id,
            "enrollment_id": self.enrollment_id,
        }


def resolve_step(schedule: Schedule, message: Message) -> Step | None:
    """The schedule's step for `message` now, or None when the schedule no longer has it."""
    try:
        return schedule.sequence(message.sequence).step(message.step_id)
    except KeyError:
        return None


@dataclass(frozen=True)
class Loaded:
    """A queued message with what deciding it reads: its patient, enrollment and appointment."""

    message: Message
    patient: Patient
    enrollment_state: str
    appointment: Appointment | None


@dataclass
class Preparer:
    """Turns queued message ids into `Ready` sends (and records every other outcome)."""

    sessions: sessionmaker[Session]
    composer: Composer  # the schedule loaded now, and how its templates render
    channels: dict[str, Channel]
    leases: LeaseKeeper

    def prepare(self, ids: list[int], now: datetime) -> tuple[dict[int, str], list[Ready]]:
        """One transaction for the batch; return the outcomes so far and what is to be sent."""
        outcomes: dict[int, str] = {}
        ready: list[Ready] = []
        with self.sessions.begin() as session:
            queued = []
            for row in _locked_rows(session, ids):
                if row[0].state == S.QUEUED and row[0].holder == self.leases.holder:
                    queued.append(row)
                else:  # a duplicate task; someone else has it
                    outcomes[row[0].id] = f"skipped: {_held_by_other(row[0])}"
            counts = sent_today(session, [row[1] for row in queued], now)
            going: dict[tuple[str, str], list[int]] = defaultdict(list)
            for message, patient, enrollment_state, appointment in queued:
                loaded = Loaded(message, patient, str(enrollment_state), appointment)
                with bound_contextvars(
                    message_id=message.id,
                    patient_id=message.patient_id,
                    enrollment_id=message.enrollment_id,
                ):
                    done = self._one(session, loaded, counts, now)
                if isinstance(done, str):
                    outcomes[message.id] = done
                    continue
                item, verdict = done
                if not message.critical:
                    counts[patient.id] += 1  # a second message of this batch sees the first
                going[(verdict.channel, verdict.reason)].append(message.id)
                ready.append(item)
            moved = self._mark_sending(session, going, now)
        for item in ready:
            if item.outgoing.message_id not in moved:
                outcomes[item.outgoing.message_id] = "skipped: raced"
        return outcomes, [r for r in ready if r.outgoing.message_id in moved]

    def _one(
        self, session: Session, loaded: Loaded, counts: dict[int, int], now: datetime
    ) -> tuple[Ready, Verdict] | str:
        """Decide and render one message: a `Ready` and its verdict, or the outcome recorded."""
        message, schedule = loaded.message, self.composer.schedule
        step = resolve_step(schedule, message)
        if step is None:
            set_state(session, message, S.CANCELLED, STEP_GONE, now)
            return "cancel"
        facts = send_facts(schedule, step, loaded, counts, now)
        verdict = decide(facts)
        if verdict.action is not Action.SEND:
            return withhold(session, message, verdict, now)
        try:
            outgoing = self.composer(
                message, step, loaded.patient, verdict.channel, loaded.appointment
            )
        except TemplateProblem as exc:
            set_state(session, message, S.FAILED, f"template error: {exc}", now)
            return "failed"
        provider = self.channels[verdict.channel].name
        item = Ready(
            outgoing,
            provider,
            message.due_at,
            message.patient_id,
            message.enrollment_id,
            facts,
            message.uncertain_since,
            message.uncertain_until,
        )
        return item, verdict

    def _mark_sending(
        self, session: Session, going: dict[tuple[str, str], list[int]], now: datetime
    ) -> set[int]:
        """`queued -> sending` for every message about to go, one UPDATE per (channel, reason)."""
        moved: set[int] = set()
        for (channel, reason), ids in going.items():
            moved.update(
                move_many(
                    session,
                    ids,
                    S.QUEUED,
                    S.SENDING,
                    reason or "sending",
                    WORKER,
                    now,
                    row_reason=reason,
                    channel=channel,
                    attempts=Message.attempts + 1,
                    holder=self.leases.holder,
                    lease_until=self.leases.until(),
                )
            )
        return moved


_Row = Row[Message, Patient, EnrollmentState, Appointment]


def _held_by_other(message: Message) -> str:
    """Why a row of this task is not ours to send: moved on, or taken by another task."""
    return "held by another worker" if message.state == S.QUEUED else str(message.state)


def _locked_rows(session: Session, ids: list[int]) -> Sequence[_Row]:
    # The row locks (PostgreSQL), taken in id order so two overlapping batches cannot deadlock,
    # make a duplicate task wait here, then see `sending`.
    rows = session.execute(
        select(Message, Patient, Enrollment.state, Appointment)
        .join(Patient, Patient.id == Message.patient_id)
        .join(Enrollment, Enrollment.id == Message.enrollment_id)
        .outerjoin(Appointment, Appointment.id == Message.appointment_id)
        .where(Message.id.in_(ids))
        .order_by(Message.id)
        .with_for_update(of=Message)
    )
    return rows.all()


def send_facts(
    schedule: Schedule, step: Step, loaded: Loaded, counts: dict[int, int], now: datetime
) -> SendFacts:
    """What the gate decides on, from the row (the plan), the step (live) and the store now."""
    message, patient, appointment = loaded.message, loaded.patient, loaded.appointment
    event_at = None
    if appointment is not None:
        event_at = appointment.ends_at if step.anchor == "infusion.end" else appointment.starts_at
    return SendFacts(
        channel=message.channel,
        step_channels=tuple(step.channels),
        critical=message.critical,
        enrollment_state=loaded.enrollment_state,
        appointment_cancelled=bool(appointment and appointment.state == AppointmentState.CANCELLED),
        open_channels=consented_channels(patient),
        sent_today=0 if message.critical else counts[patient.id],
        daily_cap=schedule.clinic.daily_cap,
        timezone=patient.timezone,
        quiet=schedule.clinic.quiet_hours,
        now=now,
        before_event=step.offset.before,
        event_at=event_at,
        about_cancellation=step.anchor == "appointment.cancelled",
    )


def sent_today(session: Session, patients: list[Patient], now: datetime) -> dict[int, int]:
    """Non-critical messages each patient was sent since their local midnight: one query."""
    days = {p.id: local_day(now, ZoneInfo(p.timezone)) for p in patients}
    counts: dict[int, int] = dict.fromkeys(days, 0)
    if not days:
        return counts
    rows = session.execute(
        select(Message.patient_id, Message.sending_at).where(
            Message.patient_id.in_(list(days)),
            Message.critical.is_(False),
            Message.state.in_(_COUNTED),
            Message.sending_at >= min(start for start, _ in days.values()),
            Message.sending_at < max(end for _, end in days.values()),
        )
    )
    for patient_id, sending_at in rows:
        start, end = days[patient_id]
        if sending_at is not None and start <= sending_at < end:
            counts[patient_id] += 1
    return counts
