"""Send one queued message: re-check, render, record `sending`, call the provider once, record.

The outbox row moves to `sending` and commits BEFORE the provider call, and the provider id is
stored right after it, so a crash leaves evidence (see claim.recover_stuck). A retry is not a
loop here: the message goes back to `scheduled` with a later due time and the dispatcher picks
it up again, so retries survive restarts and obey the same claiming rules as first sends.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import func, insert, select, update
from sqlalchemy.orm import Session, sessionmaker
from structlog.contextvars import bind_contextvars, bound_contextvars

from engage import metrics
from engage.channels.base import Channel, Outgoing, Receipt
from engage.delivery.compose import compose
from engage.delivery.gate import Action, SendFacts, Verdict, decide
from engage.errors import DeliveryError, TemplateError
from engage.logs import get_logger
from engage.ratelimit import RateLimiter
from engage.retry import RetryPolicy
from engage.schedule.models import Schedule
from engage.store.appointments import Appointment, AppointmentState
from engage.store.audit import audit
from engage.store.db import transition
from engage.store.enrollments import Enrollment
from engage.store.messages import Message, MessageEvent, MessageState
from engage.store.patients import Consent, Patient, consented_channels

log = get_logger("engage.sender")
WORKER = "worker"
S = MessageState
_COUNTED = (S.SENDING, S.SENT, S.DELIVERED, S.UNDELIVERED)
# Provider codes that mean the recipient closed the channel themselves.
_CLOSES_CONSENT = {"21610": ("sms", "twilio-21610")}


@dataclass
class Sender:
    """Everything one send needs, built once per worker process."""

    sessions: sessionmaker[Session]
    schedule: Schedule
    env: Any  # the sandboxed Jinja2 environment
    channels: dict[str, Channel]
    limiter: RateLimiter
    policy: RetryPolicy
    public_url: str
    signing_secret: str
    clock: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))
    rng: random.Random = field(default_factory=random.Random)

    def send(self, message_id: int) -> str:
        """Send message `message_id` if it is still queued; return what happened, for logs."""
        # Every log line of this send carries its ids (patient and enrollment are bound by
        # _prepare once the row is read); all three are unbound again when the send returns.
        with bound_contextvars(message_id=message_id, patient_id=None, enrollment_id=None):
            prepared = self._prepare(message_id)
            if isinstance(prepared, str):
                return prepared
            outgoing, provider = prepared
            self.limiter.acquire(provider)
            started = time.monotonic()
            try:
                receipt = self.channels[outgoing.channel].send(outgoing)
            except DeliveryError as error:
                metrics.count_error(provider, error.code, time.monotonic() - started)
                return self._record_failure(message_id, error)
            return self._record_success(message_id, receipt, time.monotonic() - started)

    # -- before the call -------------------------------------------------------------------

    def _prepare(self, message_id: int) -> tuple[Outgoing, str] | str:
        now = self.clock()
        with self.sessions.begin() as session:
            # The row lock (PostgreSQL) makes a duplicate task wait here, then see `sending`.
            # One round trip for everything the verdict and the rendering read.
            row = session.execute(
                select(Message, Patient, Enrollment.state, Appointment)
                .join(Patient, Patient.id == Message.patient_id)
                .join(Enrollment, Enrollment.id == Message.enrollment_id)
                .outerjoin(Appointment, Appointment.id == Message.appointment_id)
                .where(Message.id == message_id)
                .with_for_update(of=Message)
            ).first()
            if row is None:
                return "unknown"
            message, patient, enrollment_state, appointment = row
            bind_contextvars(patient_id=message.patient_id, enrollment_id=message.enrollment_id)
            if message.state != S.QUEUED:
                return f"skipped: {message.state}"  # a duplicate task; someone else has it
            facts = self._facts(session, message, patient, str(enrollment_state), appointment, now)
            verdict = decide(facts)
            if verdict.action is not Action.SEND:
                self._apply(session, message, verdict, now)
                if verdict.action is Action.SUPPRESS:
                    metrics.count_suppressed(verdict.reason)
                log.info(
                    "send.withheld",
                    message_id=message_id,
                    action=verdict.action.value,
                    reason=verdict.reason,
                )
                return verdict.action.value
            try:
                outgoing = self._compose(message, patient, appointment, verdict.channel)
            except TemplateError as exc:
                self._set(session, message, S.FAILED, f"template error: {exc}", now)
                return "failed"
            moved = _rowcount(
                session.execute(
                    update(Message)
                    .where(Message.id == message_id, Message.state == S.QUEUED)
                    .values(
                        state=S.SENDING,
                        channel=verdict.channel,
                        sending_at=now,
                        updated_at=now,
                        attempts=Message.attempts + 1,
                        reason=verdict.reason,
                    )
                    .execution_options(synchronize_session=False)
                )
            )
            if moved != 1:
                return "skipped: raced"
            self._event(session, message_id, S.QUEUED, S.SENDING, verdict.reason or "sending", now)
        return outgoing, self.channels[verdict.channel].name

    def _facts(
        self,
        session: Session,
        message: Message,
        patient: Patient,
        enrollment_state: str,
        appointment: Appointment | None,
        now: datetime,
    ) -> SendFacts:
        try:
            step_channels = self.schedule.sequence(message.sequence).step(message.step_id).channels
        except KeyError:
            step_channels = (message.channel,)
        return SendFacts(
            channel=message.channel,
            step_channels=tuple(step_channels),
            critical=message.critical,
            enrollment_state=enrollment_state,
            appointment_cancelled=bool(
                appointment and appointment.state == AppointmentState.CANCELLED
            ),
            open_channels=consented_channels(patient),
            sent_today=0 if message.critical else self._sent_today(session, patient, now),
            daily_cap=self.schedule.clinic.daily_cap,
            timezone=patient.timezone,
            quiet=self.schedule.clinic.quiet_hours,
            now=now,
        )

    def _sent_today(self, session: Session, patient: Patient, now: datetime) -> int:
        from zoneinfo import ZoneInfo

        local = now.astimezone(ZoneInfo(patient.timezone))
        start = local.replace(hour=0, minute=0, second=0, microsecond=0).astimezone(UTC)
        query = select(func.count(Message.id)).where(
            Message.patient_id == patient.id,
            Message.critical.is_(False),
            Message.state.in_(_COUNTED),
            Message.sending_at >= start,
            Message.sending_at < start + timedelta(days=1),
        )
        return int(session.execute(query).scalar_one())

    def _compose(
        self, message: Message, patient: Patient, appointment: Appointment | None, channel: str
    ) -> Outgoing:
        return compose(
            schedule=self.schedule,
            env=self.env,
            message=message,
            patient=patient,
            channel=channel,
            appointment=appointment,
            public_url=self.public_url,
            signing_secret=self.signing_secret,
        )

    def _apply(self, session: Session, message: Message, verdict: Verdict, now: datetime) -> None:
        target = {
            Action.DEFER: S.SCHEDULED,
            Action.CANCEL: S.CANCELLED,
            Action.SUPPRESS: S.SUPPRESSED,
            Action.FLAG: S.FLAGGED,
        }[verdict.action]
        if verdict.until is not None:
            message.due_at = verdict.until
        self._set(session, message, target, verdict.reason, now)

    # -- after the call --------------------------------------------------------------------

    def _record_success(self, message_id: int, receipt: Receipt, seconds: float = 0.0) -> str:
        now = self.clock()
        with self.sessions.begin() as session:
            due = session.execute(select(Message.due_at).where(Message.id == message_id)).scalar()
            moved = _rowcount(
                session.execute(
                    update(Message)
                    .where(Message.id == message_id, Message.state == S.SENDING)
                    .values(
                        state=S.SENT,
                        provider=receipt.provider,
                        provider_id=receipt.provider_id,
                        provider_status=receipt.status,
                        sent_at=now,
                        updated_at=now,
                        reason="",
                        last_error_code=None,
                    )
                    .execution_options(synchronize_session=False)
                )
            )
            if moved:
                self._event(
                    session, message_id, S.SENDING, S.SENT, f"accepted by {receipt.provider}", now
                )
            else:
                # A status callback overtook us (delivered before our commit): keep its state,
                # only fill in what the provider told us.
                session.execute(
                    update(Message)
                    .where(Message.id == message_id, Message.provider_id.is_(None))
                    .values(provider=receipt.provider, provider_id=receipt.provider_id)
                    .execution_options(synchronize_session=False)
                )
        metrics.observe_send(receipt.provider, seconds, (now - due).total_seconds() if due else 0.0)
        log.info("send.sent", message_id=message_id, provider=receipt.provider)
        return "sent"

    def _record_failure(self, message_id: int, error: DeliveryError) -> str:
        now = self.clock()
        with self.sessions.begin() as session:
            message = session.get_one(Message, message_id)
            if message.state != S.SENDING:
                return f"skipped: {message.state}"
            message.last_error_code = error.code or None
            closes = _CLOSES_CONSENT.get(error.code)
            if closes:
                _close_consent(session, message.patient_id, *closes, now)
            delay = self.policy.next_delay(message.attempts, error, self.rng)
            if delay is None:
                why = (
                    "permanent" if error.permanent else f"gave up after {message.attempts} attempts"
                )
                self._set(session, message, S.FAILED, f"{why}: {error.reason}", now)
                outcome = "failed"
            else:
                message.due_at = now + timedelta(seconds=delay)
                self._set(
                    session,
                    message,
                    S.SCHEDULED,
                    f"retry {message.attempts} in {delay:.1f}s: {error.reason}",
                    now,
                )
                outcome = "retry"
                metrics.count_retry(self.channels[message.channel].name)
        log.warning(
            "send.error",
            message_id=message_id,
            code=error.code,
            outcome=outcome,
            permanent=error.permanent,
        )
        return outcome

    # -- helpers ---------------------------------------------------------------------------

    def _set(
        self, session: Session, message: Message, to: MessageState, reason: str, now: datetime
    ) -> None:
        transition(session, message, to, reason, WORKER, at=now)

    @staticmethod
    def _event(
        session: Session,
        message_id: int,
        before: MessageState,
        after: MessageState,
        reason: str,
        now: datetime,
    ) -> None:
        # A Core insert: the hot path needs no ORM object for a row it never reads back.
        session.execute(
            insert(MessageEvent).values(
                message_id=message_id,
                at=now,
                from_state=before.value,
                to_state=after.value,
                reason=reason,
                actor=WORKER,
            )
        )


def _rowcount(result: Any) -> int:
    """Rows an UPDATE changed: the conditional update's answer to "was it still mine?"."""
    return int(result.rowcount)


def _close_consent(
    session: Session, patient_id: int, channel: str, source: str, now: datetime
) -> None:
    consent = session.execute(
        select(Consent).where(Consent.patient_id == patient_id, Consent.channel == channel)
    ).scalar_one_or_none()
    if consent is not None and consent.granted:
        consent.granted = False
        consent.changed_at = now
        consent.source = source
        audit(
            session,
            actor=source,
            action="consent.closed",
            entity="patient",
            entity_id=patient_id,
            before={channel: True},
            after={channel: False},
            at=now,
        )
