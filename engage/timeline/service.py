"""A patient's timeline: every message sent and still to come, told as it will really happen.

For each message: its due time in the patient's zone (named) beside UTC; for a pending one the
channel it will actually use given consent now, or why it will not go; a paused enrollment's
messages shown as paused; each move as old -> new; its rendered text. Appointments come with
their own moves (old -> new start), from the audit log.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from engage.enrollment.common import get_patient
from engage.rendering.context import AppointmentFacts
from engage.schedule.models import Schedule
from engage.store.appointments import Appointment
from engage.store.audit import AuditLog
from engage.store.enrollments import Enrollment, EnrollmentState
from engage.store.messages import Message, MessageEvent, MessageState
from engage.store.patients import CHANNEL_ORDER, Patient
from engage.timeline.outlook import ChannelState, outlook
from engage.timeline.text import Text, render_text

PENDING_STATES = (MessageState.SCHEDULED, MessageState.QUEUED)


@dataclass(frozen=True)
class Move:
    """A change of time: from `before` to `after` (UTC), when and why."""

    at: datetime
    before: datetime
    after: datetime
    reason: str
    actor: str


@dataclass(frozen=True)
class Change:
    at: datetime
    from_state: str | None
    to_state: str
    reason: str
    actor: str


@dataclass(frozen=True)
class MessageEntry:
    id: int
    enrollment_id: int
    sequence: str
    step: str
    template: str
    appointment_id: int | None
    occurrence: int
    critical: bool
    state: str  # as stored
    shown_state: str  # "paused" for a scheduled message of a paused enrollment, else `state`
    reason: str
    due_at: datetime  # UTC
    due_local: datetime  # aware, in the patient's zone
    planned_channel: str
    channel: str | None  # the one it went by, or will go by given consent now (None: will not)
    outlook: str  # why the channel differs, or why it will not go; "" when it goes as planned
    queued_at: datetime | None
    sent_at: datetime | None
    delivered_at: datetime | None
    attempts: int
    provider: str | None
    provider_status: str | None
    last_error_code: str | None
    moves: list[Move]
    history: list[Change]
    text: Text | None


@dataclass(frozen=True)
class AppointmentEntry:
    id: int
    starts_at: datetime
    starts_local: datetime
    ends_at: datetime
    state: str
    location: str
    moves: list[Move]


@dataclass(frozen=True)
class EnrollmentEntry:
    id: int
    sequence: str
    state: str
    reason: str
    paused_until: datetime | None


@dataclass(frozen=True)
class PatientTimeline:
    patient_id: int
    timezone: str  # the IANA zone every `*_local` is in
    enrollments: list[EnrollmentEntry]
    appointments: list[AppointmentEntry]
    messages: list[MessageEntry] = field(default_factory=list)


def patient_timeline(
    session: Session,
    schedule: Schedule,
    env: Any,
    patient_id: int,
    *,
    with_text: bool = True,
) -> PatientTimeline:
    """The whole timeline of a patient (NotFound if there is none); reads only."""
    patient = get_patient(session, patient_id)
    zone = ZoneInfo(patient.timezone)
    enrollments = {
        e.id: e
        for e in session.scalars(
            select(Enrollment).where(Enrollment.patient_id == patient_id).order_by(Enrollment.id)
        )
    }
    appointments = {
        a.id: a
        for a in session.scalars(
            select(Appointment)
            .where(Appointment.patient_id == patient_id)
            .order_by(Appointment.starts_at, Appointment.id)
        )
    }
    messages = list(
        session.scalars(
            select(Message)
            .where(Message.patient_id == patient_id)
            .order_by(Message.due_at, Message.id)
        )
    )
    events = _events(session, patient_id)
    channels = _channel_states(patient)
    moves = {a: _appointment_moves(session, a) for a in appointments}
    reader = _Reader(
        schedule, env, patient, zone, channels, enrollments, appointments, moves, with_text
    )
    return PatientTimeline(
        patient_id=patient_id,
        timezone=patient.timezone,
        enrollments=[
            EnrollmentEntry(e.id, e.sequence, str(e.state), e.reason, e.paused_until)
            for e in enrollments.values()
        ],
        appointments=[
            AppointmentEntry(
                a.id,
                a.starts_at,
                a.starts_at.astimezone(zone),
                a.ends_at,
                str(a.state),
                a.location,
                moves[a.id],
            )
            for a in appointments.values()
        ],
        messages=[reader.entry(m, events[m.id]) for m in messages],
    )


@dataclass(frozen=True)
class _Reader:
    schedule: Schedule
    env: Any
    patient: Patient
    zone: ZoneInfo
    channels: dict[str, ChannelState]
    enrollments: dict[int, Enrollment]
    appointments: dict[int, Appointment]
    appointment_moves: dict[int, list[Move]]
    with_text: bool

    def entry(self, message: Message, events: list[MessageEvent]) -> MessageEntry:
        state = MessageState(message.state)
        channel: str | None = message.channel
        note = ""
        if state in PENDING_STATES:
            channel, note = self._outlook(message)
        enrollment = self.enrollments.get(message.enrollment_id)
        shown = str(state)
        if state in PENDING_STATES and enrollment and enrollment.state == EnrollmentState.PAUSED:
            shown = "paused"
            if enrollment.paused_until is not None:
                until = enrollment.paused_until.astimezone(self.zone)
                note = (note + "; " if note else "") + f"paused until {until:%Y-%m-%d %H:%M %Z}"
        text = None
        if self.with_text:
            text = render_text(
                self.schedule,
                self.env,
                message,
                self.patient,
                self._appointment_as_sent(message),
                channel or message.channel,
            )
        return MessageEntry(
            id=message.id,
            enrollment_id=message.enrollment_id,
            sequence=message.sequence,
            step=message.step_id,
            template=message.template,
            appointment_id=message.appointment_id,
            occurrence=message.occurrence,
            critical=message.critical,
            state=str(state),
            shown_state=shown,
            reason=message.reason,
            due_at=message.due_at,
            due_local=message.due_at.astimezone(self.zone),
            planned_channel=message.channel,
            channel=channel,
            outlook=note,
            queued_at=message.queued_at,
            sent_at=message.sent_at,
            delivered_at=message.delivered_at,
            attempts=message.attempts,
            provider=message.provider,
            provider_status=message.provider_status,
            last_error_code=message.last_error_code,
            moves=[
                Move(e.at, e.due_from, e.due_to, e.reason, e.actor)
                for e in events
                if e.due_from is not None and e.due_to is not None
            ],
            history=[Change(e.at, e.from_state, e.to_state, e.reason, e.actor) for e in events],
            text=text,
        )

    def _appointment_as_sent(self, message: Message) -> AppointmentFacts | None:
        """The appointment as the message spoke of it: a sent one quoted the time of then."""
        appointment = self.appointments.get(message.appointment_id or 0)
        if appointment is None:
            return None
        starts_at = appointment.starts_at
        went = message.sending_at or message.sent_at
        if went is not None:
            later = [m for m in self.appointment_moves[appointment.id] if m.at > went]
            if later:
                starts_at = later[0].before
        return AppointmentFacts(starts_at, number=message.occurrence, location=appointment.location)

    def _outlook(self, message: Message) -> tuple[str | None, str]:
        try:
            step = self.schedule.sequence(message.sequence).step(message.step_id)
            step_channels, critical = tuple(step.channels), step.critical
        except KeyError:
            step_channels, critical = (message.channel,), message.critical
        seen = outlook(
            message.channel, step_channels, critical, self.channels, self.patient.timezone
        )
        return seen.channel, seen.note


def _channel_states(patient: Patient) -> dict[str, ChannelState]:
    """Each channel's consent, the patient's preferred channel first (the gate's order)."""
    order = (
        patient.preferred_channel,
        *(c for c in CHANNEL_ORDER if c != patient.preferred_channel),
    )
    states = {}
    for channel in dict.fromkeys(order):
        consent = patient.consent(channel)
        states[channel] = ChannelState(
            channel,
            granted=bool(consent and consent.granted),
            has_address=bool(patient.address(channel)),
            source=consent.source if consent else "",
            changed_at=consent.changed_at if consent else None,
        )
    return states


def _events(session: Session, patient_id: int) -> dict[int, list[MessageEvent]]:
    found: dict[int, list[MessageEvent]] = defaultdict(list)
    for event in session.scalars(
        select(MessageEvent)
        .join(Message, Message.id == MessageEvent.message_id)
        .where(Message.patient_id == patient_id)
        .order_by(MessageEvent.id)
    ):
        found[event.message_id].append(event)
    return found


def _appointment_moves(session: Session, appointment_id: int) -> list[Move]:
    moves = []
    for row in session.scalars(
        select(AuditLog)
        .where(
            AuditLog.entity == "appointment",
            AuditLog.entity_id == str(appointment_id),
            AuditLog.action == "appointment.move",
        )
        .order_by(AuditLog.id)
    ):
        before, after = (row.before or {}).get("starts_at"), (row.after or {}).get("starts_at")
        if before and after:
            moves.append(
                Move(
                    row.at,
                    datetime.fromisoformat(before),
                    datetime.fromisoformat(after),
                    "appointment moved",
                    row.actor,
                )
            )
    return moves
