"""After a failed provider call: close consent the recipient closed, retry to a deadline, or fail.

A retry puts the message back to `scheduled` with a later due time from the retry policy; the
dispatcher claims it again, so retries survive restarts. Retrying stops when the message stops
being useful (a pre-event reminder at its event's start, anything else `horizon` after its first
failure); the `failed` reason says how long the provider was failing. A safety-critical message
still undelivered `alert_after` its first failure is flagged for staff at once (an audit row and
a metric; `staff_alerted_at` on the row), while its retries go on.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session

from engage.channels.base import AMBIGUOUS
from engage.consent import service as consent_service
from engage.delivery.gate import SendFacts
from engage.delivery.retry import RetryPolicy, SettleWaits, outage
from engage.errors import DeliveryError
from engage.logs import get_logger
from engage.ops import metrics
from engage.store.audit import audit_change
from engage.store.message_states import transition
from engage.store.messages import Message, MessageState

log = get_logger("engage.sender")
WORKER = "worker"
S = MessageState
# Provider codes that mean the recipient closed the channel themselves.
_CLOSES_CONSENT = {"21610": ("sms", "twilio-21610")}
DEFAULT_ALERT_AFTER = timedelta(minutes=15)


@dataclass(frozen=True)
class FailureRules:
    """How a worker treats a failed call: the retry policy and when to alert staff."""

    policy: RetryPolicy
    alert_after: timedelta = DEFAULT_ALERT_AFTER
    # An ambiguous outcome's wait before a worker asks the provider.
    settle: SettleWaits = field(default_factory=SettleWaits)

    def remaining(self, call: FailedCall) -> float:
        """Seconds until the message stops being useful (its deadline); may be negative."""
        return (self.policy.deadline(call.since, call.event_at) - call.now).total_seconds()


@dataclass(frozen=True)
class FailedCall:
    """A provider call that failed, with what deciding the message's next step reads."""

    message: Message
    error: DeliveryError
    facts: SendFacts
    now: datetime

    @property
    def since(self) -> datetime:
        """When the message first failed (this call, if it had not before)."""
        return self.message.failing_since or self.now

    @property
    def event_at(self) -> datetime | None:
        """The event a reminder must precede, or None."""
        return self.facts.event_at if self.facts.before_event else None


def record_failed(
    session: Session, call: FailedCall, rules: FailureRules, rng: random.Random
) -> str:
    """Record a failed call on its `sending` row: `uncertain` when the request may have reached
    the provider (or asking it failed), else a retry or `failed`; return which."""
    unknown = call.error.code in AMBIGUOUS or call.error.code == "lookup"
    return (_record_uncertain if unknown else _record_failure)(session, call, rules, rng)


def _record_failure(
    session: Session, call: FailedCall, rules: FailureRules, rng: random.Random
) -> str:
    """Move a message whose call failed to `scheduled` (a retry) or `failed`; return which."""
    message, error, now, since = call.message, call.error, call.now, call.since
    closes = _CLOSES_CONSENT.get(error.code)
    if closes:
        _close_consent(session, message.patient_id, *closes, now)
    remaining = rules.remaining(call)
    delay = rules.policy.next_delay(message.attempts, error, rng, remaining=remaining)
    if delay is None:
        return _give_up(
            session, call, _why_given_up(message, error, since, now, call.event_at, rules.policy)
        )
    alert = {}
    if message.critical and message.staff_alerted_at is None and now - since >= rules.alert_after:
        _alert_staff(session, message, since, now)
        alert["staff_alerted_at"] = now
    reason = f"retry {message.attempts} in {delay:.1f}s: {error.reason}"
    _wait(session, call, S.SCHEDULED, reason, delay, **alert)
    return "retry"


def _why_given_up(
    message: Message,
    error: DeliveryError,
    since: datetime,
    now: datetime,
    event_at: datetime | None,
    policy: RetryPolicy,
) -> str:
    if error.permanent:
        return f"permanent: {error.reason}"
    failing = outage((now - since).total_seconds())
    if policy.max_attempts is not None and message.attempts >= policy.max_attempts:
        return (
            f"gave up after {message.attempts} attempts: provider unavailable for {failing}: "
            f"{error.reason}"
        )
    if event_at is not None and now + timedelta(seconds=error.retry_after or 0) >= event_at:
        stop = "its event starts"
    else:
        stop = "the retry horizon passed"
    return (
        f"gave up: provider unavailable for {failing} ({message.attempts} attempts) "
        f"and {stop}: {error.reason}"
    )


def _alert_staff(session: Session, message: Message, since: datetime, now: datetime) -> None:
    failing = outage((now - since).total_seconds())
    audit_change(
        session,
        message,
        "message.critical_undelivered",
        actor=WORKER,
        after={"failing_for": failing, "attempts": message.attempts, "retrying": True},
        at=now,
    )
    metrics.count_critical_late(message.channel)
    log.warning("send.critical_undelivered", message_id=message.id, failing_for=failing)


def _close_consent(
    session: Session, patient_id: int, channel: str, source: str, now: datetime
) -> None:
    # 21610: the number texted STOP to us; the patient's own opt-out, through the one writer.
    consent_service.change(
        session,
        patient_id,
        channel,
        granted=False,
        source=source,
        actor=source,
        now=now,
        origin=consent_service.Origin.PATIENT,
    )


def _record_uncertain(
    session: Session, call: FailedCall, rules: FailureRules, rng: random.Random
) -> str:
    """The request may have reached the provider: `uncertain` until it is settled (a callback,
    or a worker asking the provider's records once the row is due again); never resent blindly.

    A failed look-up (the provider still down) waits by the retry policy's backoff. Past the
    message's deadline it is `failed`, saying the outcome stayed unknown.
    """
    message, error, now, since = call.message, call.error, call.now, call.since
    remaining = rules.remaining(call)
    if error.code == "lookup":
        wait = rules.policy.next_delay(message.attempts, error, rng, remaining=remaining)
    else:
        settle = rules.settle.of(message.channel).total_seconds()
        wait = min(settle, remaining) if remaining > 0 else None
    if wait is None:
        why = f"gave up: the outcome stayed unknown for {outage((now - since).total_seconds())}"
        return _give_up(session, call, f"{why}: {error.reason}")
    _wait(
        session,
        call,
        S.UNCERTAIN,
        f"uncertain: {error.reason}; asking the provider in {wait:.0f}s",
        wait,
        uncertain_since=message.uncertain_since or message.sending_at or now,
        # A failed look-up sent nothing: the window of what may have gone out stays as it was.
        uncertain_until=(message.uncertain_until or now) if error.code == "lookup" else now,
        holder=None,
        lease_until=None,
    )
    return "uncertain"


def _give_up(session: Session, call: FailedCall, why: str) -> str:
    """The message stops being retried: `failed`, saying why."""
    transition(
        session, call.message, S.FAILED, why, WORKER, at=call.now,
        last_error_code=call.error.code or None, failing_since=call.since,
    )  # fmt: skip
    return "failed"


def _wait(
    session: Session, call: FailedCall, to: MessageState, reason: str, seconds: float, **more: Any
) -> None:
    """The message waits `seconds` in `to` (a retry, or asking the provider), still failing."""
    transition(
        session,
        call.message,
        to,
        reason,
        WORKER,
        at=call.now,
        last_error_code=call.error.code or None,
        due_at=call.now + timedelta(seconds=seconds),
        failing_since=call.since,
        **more,
    )
