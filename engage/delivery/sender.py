"""Send queued messages: re-check, render, record `sending`, call the provider once, record.

The outbox rows move to `sending` and commit BEFORE the provider calls, and the provider ids are
stored right after them, so a crash leaves evidence (see claim.recover_stuck). A batch (a packed
task during a backlog) costs a handful of statements in all, not a handful per message. A
retry is not a loop here: the message goes back to `scheduled` with a later due time and the
dispatcher picks it up again, so retries survive restarts and obey the same claiming rules as
first sends.
"""

from __future__ import annotations

import random
import time
from collections import defaultdict
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor, wait
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, sessionmaker
from structlog.contextvars import bound_contextvars

from engage.channels.base import Channel, Outgoing, Receipt
from engage.delivery.compose import compose
from engage.delivery.failures import DEFAULT_ALERT_AFTER, FailureRules, record_failure
from engage.delivery.gate import Action, SendFacts, Verdict, decide
from engage.delivery.lease import DEFAULT_LEASE, LeaseKeeper
from engage.delivery.ratelimit import RateLimiter
from engage.delivery.retry import RetryPolicy
from engage.errors import DeliveryError, TemplateProblem
from engage.logs import get_logger
from engage.ops import metrics
from engage.planning.localtime import local_day
from engage.schedule.models import Schedule
from engage.store.appointments import Appointment, AppointmentState
from engage.store.enrollments import Enrollment
from engage.store.message_states import move_many, record_receipts, transition
from engage.store.messages import Message, MessageState
from engage.store.patients import Patient, consented_channels

log = get_logger("engage.sender")
WORKER = "worker"
S = MessageState
_COUNTED = (S.SENDING, S.SENT, S.DELIVERED, S.UNDELIVERED)
# Receipts are recorded at least this often while a batch's other calls are still out.
RECORD_EVERY = 0.25
RECORD_ATTEMPTS = 4  # waits of 0.5, 1 and 2 s between them: a database failover's blip


@dataclass(frozen=True)
class Ready:
    """A message moved to `sending` and rendered: one provider call away from the patient."""

    outgoing: Outgoing
    provider: str
    due_at: datetime
    patient_id: int
    enrollment_id: int
    facts: SendFacts  # what the gate decided on; its time checks run again at the call

    @property
    def ids(self) -> dict[str, int]:
        """What every log line about this send carries."""
        return {
            "message_id": self.outgoing.message_id,
            "patient_id": self.patient_id,
            "enrollment_id": self.enrollment_id,
        }


Outcome = Receipt | DeliveryError | Verdict  # a Verdict: withheld at the moment of the call


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
    calls: int = 16  # provider calls in flight at once for batches (threads start on demand)
    lease: timedelta = DEFAULT_LEASE
    alert_after: timedelta = DEFAULT_ALERT_AFTER  # a critical message failing this long: staff
    pool: ThreadPoolExecutor = field(init=False, repr=False)
    leases: LeaseKeeper = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self.pool = ThreadPoolExecutor(self.calls, thread_name_prefix="engage-send")
        self.leases = LeaseKeeper(self.sessions, self.clock, self.lease)

    def send(self, message_id: int) -> str:
        """Send message `message_id` if it is still queued; return what happened, for logs."""
        return self.send_many([message_id])[0]

    def send_many(self, message_ids: Sequence[int]) -> list[str]:
        """Send each message still queued; return what happened to each, in the given order.

        The database work is set-based: one transaction reads, checks, renders and marks the
        whole batch `sending`; the provider calls run concurrently; the receipts are recorded
        together as soon as they are in (at least every RECORD_EVERY seconds, so one hanging
        call does not hold the others' provider ids back and widen the duplicate window).
        """
        if not message_ids:
            return []
        self.leases.hold()
        try:
            outcomes, ready = self._prepare(list(message_ids))
            for done in self._call(ready):
                outcomes.update(self._record(done))
        finally:
            self.leases.release()
        return [outcomes.get(i, "unknown") for i in message_ids]

    # -- before the call -------------------------------------------------------------------

    def _prepare(self, ids: list[int]) -> tuple[dict[int, str], list[Ready]]:
        now = self.clock()
        outcomes: dict[int, str] = {}
        ready: list[Ready] = []
        with self.sessions.begin() as session:
            # The row locks (PostgreSQL), taken in id order so two overlapping batches cannot
            # deadlock, make a duplicate task wait here, then see `sending`.
            rows = session.execute(
                select(Message, Patient, Enrollment.state, Appointment)
                .join(Patient, Patient.id == Message.patient_id)
                .join(Enrollment, Enrollment.id == Message.enrollment_id)
                .outerjoin(Appointment, Appointment.id == Message.appointment_id)
                .where(Message.id.in_(ids))
                .order_by(Message.id)
                .with_for_update(of=Message)
            ).all()
            queued = []
            for row in rows:
                if row[0].state == S.QUEUED:
                    queued.append(row)
                else:  # a duplicate task; someone else has it
                    outcomes[row[0].id] = f"skipped: {row[0].state}"
            sent_today = self._sent_today(session, [row[1] for row in queued], now)
            going: dict[tuple[str, str], list[int]] = defaultdict(list)
            for message, patient, enrollment_state, appointment in queued:
                with bound_contextvars(
                    message_id=message.id,
                    patient_id=message.patient_id,
                    enrollment_id=message.enrollment_id,
                ):
                    facts = self._facts(
                        message, patient, str(enrollment_state), appointment, sent_today, now
                    )
                    verdict = decide(facts)
                    if verdict.action is not Action.SEND:
                        outcomes[message.id] = self._withhold(session, message, verdict, now)
                        continue
                    try:
                        outgoing = self._compose(message, patient, appointment, verdict.channel)
                    except TemplateProblem as exc:
                        self._set(session, message, S.FAILED, f"template error: {exc}", now)
                        outcomes[message.id] = "failed"
                        continue
                if not message.critical:
                    sent_today[patient.id] += 1  # a second message of this batch sees the first
                going[(verdict.channel, verdict.reason)].append(message.id)
                channel = self.channels[verdict.channel]
                ready.append(
                    Ready(
                        outgoing,
                        channel.name,
                        message.due_at,
                        message.patient_id,
                        message.enrollment_id,
                        facts,
                    )
                )
            moved = self._mark_sending(session, going, now)
        for item in ready:
            if item.outgoing.message_id not in moved:
                outcomes[item.outgoing.message_id] = "skipped: raced"
        return outcomes, [r for r in ready if r.outgoing.message_id in moved]

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

    def _withhold(self, session: Session, message: Message, verdict: Verdict, now: datetime) -> str:
        self._apply(session, message, verdict, now)
        if verdict.action is Action.SUPPRESS:
            metrics.count_suppressed(verdict.reason)
        log.info(
            "send.withheld",
            message_id=message.id,
            action=verdict.action.value,
            reason=verdict.reason,
        )
        return verdict.action.value

    # -- the call --------------------------------------------------------------------------

    def _call(self, ready: list[Ready]) -> Iterator[list[tuple[Ready, Outcome, float]]]:
        """Call the provider for each message; yield the outcomes in groups as they finish."""
        if len(ready) <= 1:  # a trickle: no thread hand-off
            if ready:
                yield [self._call_one(ready[0])]
            return
        pending = {self.pool.submit(self._call_one, item) for item in ready}
        while pending:
            done, pending = wait(pending, timeout=RECORD_EVERY)
            if done:
                yield [future.result() for future in done]

    def _call_one(self, item: Ready) -> tuple[Ready, Outcome, float]:
        """One provider attempt; never raises, so one odd failure cannot orphan a batch."""
        started = time.monotonic()
        try:
            self.limiter.acquire(item.provider)
            started = time.monotonic()
            # The wait for a grant may have crossed into quiet hours, the event's start or a
            # new day: decide the time checks again, now (consent and the rest are as read).
            verdict = decide(replace(item.facts, now=self.clock()))
            if verdict.action is not Action.SEND:
                return item, verdict, 0.0
            outcome: Outcome = self.channels[item.outgoing.channel].send(item.outgoing)
        except DeliveryError as error:
            outcome = error
        except Exception as exc:  # a bug or an outage of ours (e.g. Redis for the rate limit)
            log.error("send.unexpected", **item.ids, error=type(exc).__name__)
            outcome = DeliveryError(
                f"{item.provider}: unexpected {type(exc).__name__}", permanent=False, code="error"
            )
        return item, outcome, time.monotonic() - started

    # -- after the call --------------------------------------------------------------------

    def _record(self, done: list[tuple[Ready, Outcome, float]]) -> dict[int, str]:
        outcomes: dict[int, str] = {}
        receipts = [(item, o, s) for item, o, s in done if isinstance(o, Receipt)]
        if receipts:
            outcomes.update(self._record_sent(receipts))
        for item, outcome, seconds in done:
            if isinstance(outcome, Verdict):
                with bound_contextvars(**item.ids):
                    outcomes[item.outgoing.message_id] = self._withhold_late(item, outcome)
            elif isinstance(outcome, DeliveryError):
                metrics.count_error(item.provider, outcome.code, seconds)
                with bound_contextvars(**item.ids):
                    outcomes[item.outgoing.message_id] = self._record_failure(item, outcome)
        return outcomes

    def _withhold_late(self, item: Ready, verdict: Verdict) -> str:
        """A verdict reached at the call: the message leaves `sending` without a call."""
        now = self.clock()
        with self.sessions.begin() as session:
            message = session.get_one(Message, item.outgoing.message_id)
            if message.state != S.SENDING:
                return f"skipped: {message.state}"
            return self._withhold(session, message, verdict, now)

    def _record_sent(self, receipts: list[tuple[Ready, Receipt, float]]) -> dict[int, str]:
        """Store the receipts, retrying a database blip: a lost receipt means a resend later."""
        for attempt in range(1, RECORD_ATTEMPTS):
            try:
                return self._write_sent(receipts)
            except OperationalError:
                log.warning("send.record_retry", attempt=attempt, messages=len(receipts))
                time.sleep(0.5 * 2 ** (attempt - 1))
        return self._write_sent(receipts)  # failing again, the rows stay `sending` for recovery

    def _write_sent(self, receipts: list[tuple[Ready, Receipt, float]]) -> dict[int, str]:
        """`sending -> sent` with each provider id, one UPDATE per provider and status."""
        now = self.clock()
        groups: dict[tuple[str, str], dict[int, str]] = defaultdict(dict)
        for item, receipt, _ in receipts:
            groups[(receipt.provider, receipt.status)][item.outgoing.message_id] = (
                receipt.provider_id
            )
        with self.sessions.begin() as session:
            for (provider, status), provider_ids in groups.items():
                record_receipts(session, provider, status, provider_ids, WORKER, now)
        for item, receipt, seconds in receipts:
            lateness = (now - item.due_at).total_seconds()
            metrics.observe_send(receipt.provider, seconds, lateness)
            log.info("send.sent", **item.ids, provider=receipt.provider)
        return {item.outgoing.message_id: "sent" for item, _, _ in receipts}

    def _facts(
        self,
        message: Message,
        patient: Patient,
        enrollment_state: str,
        appointment: Appointment | None,
        sent_today: dict[int, int],
        now: datetime,
    ) -> SendFacts:
        try:
            step = self.schedule.sequence(message.sequence).step(message.step_id)
            step_channels, before_event = step.channels, step.offset.before
        except KeyError:
            step, step_channels, before_event = None, (message.channel,), False
        event_at = None
        if appointment is not None and step is not None:
            event_at = (
                appointment.ends_at if step.anchor == "infusion.end" else appointment.starts_at
            )
        return SendFacts(
            channel=message.channel,
            step_channels=tuple(step_channels),
            critical=message.critical,
            enrollment_state=enrollment_state,
            appointment_cancelled=bool(
                appointment and appointment.state == AppointmentState.CANCELLED
            ),
            open_channels=consented_channels(patient),
            sent_today=0 if message.critical else sent_today[patient.id],
            daily_cap=self.schedule.clinic.daily_cap,
            timezone=patient.timezone,
            quiet=self.schedule.clinic.quiet_hours,
            now=now,
            before_event=before_event,
            event_at=event_at,
            about_cancellation=step is not None and step.anchor == "appointment.cancelled",
        )

    @staticmethod
    def _sent_today(session: Session, patients: list[Patient], now: datetime) -> dict[int, int]:
        """Non-critical messages each patient was sent since their local midnight: one query."""
        days = {p.id: _local_day(now, p.timezone) for p in patients}
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
        changes = {} if verdict.until is None else {"due_at": verdict.until}
        self._set(session, message, target, verdict.reason, now, **changes)

    # -- after the call --------------------------------------------------------------------

    def _record_failure(self, item: Ready, error: DeliveryError) -> str:
        message_id = item.outgoing.message_id
        now = self.clock()
        with self.sessions.begin() as session:
            message = session.get_one(Message, message_id)
            if message.state != S.SENDING:
                return f"skipped: {message.state}"
            rules = FailureRules(self.policy, self.alert_after)
            outcome = record_failure(session, message, error, item.facts, rules, self.rng, now)
        if outcome == "retry":
            metrics.count_retry(item.provider)
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
        self,
        session: Session,
        message: Message,
        to: MessageState,
        reason: str,
        now: datetime,
        **changes: Any,
    ) -> None:
        transition(session, message, to, reason, WORKER, at=now, **changes)


def _local_day(now: datetime, timezone: str) -> tuple[datetime, datetime]:
    """The patient's current local day, as a UTC [start, end) range."""
    return local_day(now, ZoneInfo(timezone))
