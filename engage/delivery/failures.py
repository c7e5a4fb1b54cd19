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

from sqlalchemy.orm import Session

from engage.consent import service as consent_service
from engage.delivery.gate import SendFacts
from engage.delivery.retry import RetryPolicy, SettleWaits, outage
from engage.errors import DeliveryError
from engage.logs import get_logger
from engage.ops import metrics
from engage.store.audit import audit
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
    settle: SettleWaits = field(
        default_factory=SettleWaits
    )  # an ambiguous outcome's wait before asking


def record_failure(
    session: Session,
    message: Message,
    error: DeliveryError,
    facts: SendFacts,
    rules: FailureRules,
    rng: random.Random,
    now: datetime,
) -> str:
    """Move a message whose call failed to `scheduled` (a retry) or `failed`; return which."""
    code = error.code or None
    closes = _CLOSES_CONSENT.get(error.code)
    if closes:
        _close_consent(session, message.patient_id, *closes, now)
    since = message.failing_since or now
    event_at = facts.event_at if facts.before_event else None
    deadline = rules.policy.deadline(since, event_at)
    remaining = (deadline - now).total_seconds()
    delay = rules.policy.next_delay(message.attempts, error, rng, remaining=remaining)
    if delay is None:
        why = _why_given_up(message, error, since, now, event_at, rules.policy)
        transition(
            session, message, S.FAILED, why, WORKER, at=now, last_error_code=code,
            failing_since=since,
        )  # fmt: skip
        return "failed"
    alert = {}
    if message.critical and message.staff_alerted_at is None and now - since >= rules.alert_after:
        _alert_staff(session, message, since, now)
        alert["staff_alerted_at"] = now
    transition(
        session,
        message,
        S.SCHEDULED,
        f"retry {message.attempts} in {delay:.1f}s: {error.reason}",
        WORKER,
        at=now,
        last_error_code=code,
        due_at=now + timedelta(seconds=delay),
        failing_since=since,
        **alert,
    )
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
    audit(
        session,
        actor=WORKER,
        action="message.critical_undelivered",
        entity="message",
        entity_id=message.id,
        before=None,
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


def record_uncertain(
    session: Session,
    message: Message,
    error: DeliveryError,
    facts: SendFacts,
    rules: FailureRules,
    rng: random.Random,
    now: datetime,
) -> str:
    """The request may have reached the provider: `uncertain` until it is settled (a callback,
    or a worker asking the provider's records once the row is due again); never resent blindly.

    A failed look-up (the provider still down) waits by the retry policy's backoff. Past the
    message's deadline it is `failed`, saying the outcome stayed unknown.
    """
    since = message.failing_since or now
    event_at = facts.event_at if facts.before_event else None
    remaining = (rules.policy.deadline(since, event_at) - now).total_seconds()
    if error.code == "lookup":
        wait = rules.policy.next_delay(message.attempts, error, rng, remaining=remaining)
    else:
        settle = rules.settle.of(message.channel).total_seconds()
        wait = min(settle, remaining) if remaining > 0 else None
    code = error.code or None
    if wait is None:
        why = f"gave up: the outcome stayed unknown for {outage((now - since).total_seconds())}"
        transition(
            session, message, S.FAILED, f"{why}: {error.reason}", WORKER, at=now,
            last_error_code=code, failing_since=since,
        )  # fmt: skip
        return "failed"
    transition(
        session,
        message,
        S.UNCERTAIN,
        f"uncertain: {error.reason}; asking the provider in {wait:.0f}s",
        WORKER,
        at=now,
        last_error_code=code,
        due_at=now + timedelta(seconds=wait),
        failing_since=since,
        uncertain_since=message.uncertain_since or message.sending_at or now,
        # A failed look-up sent nothing: the window of what may have gone out stays as it was.
        uncertain_until=(message.uncertain_until or now) if error.code == "lookup" else now,
        holder=None,
        lease_until=None,
    )
    return "uncertain"
