"""After the call: record each outcome on its row (sent, withheld at the call, retry or failed).

Receipts are stored together, retrying a database blip, because a lost receipt means a resend
later; a failure goes through engage.delivery.failures (retry to a deadline, or fail). Every
write goes through engage.store.message_states, and only a row still `sending` is touched: one
recovered meanwhile belongs to someone else now.
"""

from __future__ import annotations

import random
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, sessionmaker
from structlog.contextvars import bound_contextvars

from engage.channels.base import AMBIGUOUS, Receipt
from engage.delivery.failures import FailedCall, FailureRules, record_failed
from engage.delivery.gate import Action, Verdict
from engage.errors import DeliveryError
from engage.logs import get_logger
from engage.ops import metrics
from engage.store.message_states import record_receipts, transition
from engage.store.messages import Message, MessageState

if TYPE_CHECKING:
    from engage.delivery.call import Called
    from engage.delivery.prepare import Ready

log = get_logger("engage.sender")
WORKER = "worker"
S = MessageState
RECORD_ATTEMPTS = 4  # waits of 0.5, 1 and 2 s between them: a database failover's blip
_TARGET = {
    Action.DEFER: S.SCHEDULED,
    Action.CANCEL: S.CANCELLED,
    Action.SUPPRESS: S.SUPPRESSED,
    Action.FLAG: S.FLAGGED,
}


def set_state(
    session: Session, message: Message, to: MessageState, reason: str, now: datetime, **changes: Any
) -> None:
    """A worker's change of one message's state, through the owner of message state."""
    transition(session, message, to, reason, WORKER, at=now, **changes)


def withhold(session: Session, message: Message, verdict: Verdict, now: datetime) -> str:
    """Store a verdict other than "send" (deferred, cancelled, suppressed, flagged) with its why."""
    changes = {} if verdict.until is None else {"due_at": verdict.until}
    set_state(session, message, _TARGET[verdict.action], verdict.reason, now, **changes)
    if verdict.action is Action.SUPPRESS:
        metrics.count_suppressed(verdict.reason)
    log.info(
        "send.withheld", message_id=message.id, action=verdict.action.value, reason=verdict.reason
    )
    return verdict.action.value


@dataclass
class Recorder:
    """Writes what the provider calls of a batch came to."""

    sessions: sessionmaker[Session]
    clock: Callable[[], datetime]
    rules: FailureRules
    rng: random.Random

    def record(self, done: list[Called]) -> dict[int, str]:
        """Record a group of finished calls; return what happened to each message."""
        outcomes: dict[int, str] = {}
        receipts = [(c.item, c.outcome, c.seconds) for c in done if isinstance(c.outcome, Receipt)]
        if receipts:
            outcomes.update(self._record_sent(receipts))
        for called in done:
            item, outcome = called.item, called.outcome
            with bound_contextvars(**item.ids):
                if isinstance(outcome, Verdict):
                    outcomes[item.outgoing.message_id] = self._withhold_late(item, outcome)
                elif isinstance(outcome, DeliveryError):
                    metrics.count_error(item.provider, outcome.code, called.seconds)
                    outcomes[item.outgoing.message_id] = self._failed(item, outcome)
        return outcomes

    def _withhold_late(self, item: Ready, verdict: Verdict) -> str:
        """A verdict reached at the call: the message leaves `sending` without a call."""
        now = self.clock()
        with self.sessions.begin() as session:
            message = session.get_one(Message, item.outgoing.message_id)
            if message.state != S.SENDING:
                return f"skipped: {message.state}"
            return withhold(session, message, verdict, now)

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

    def _failed(self, item: Ready, error: DeliveryError) -> str:
        message_id = item.outgoing.message_id
        now = self.clock()
        with self.sessions.begin() as session:
            message = session.get_one(Message, message_id)
            if message.state != S.SENDING:
                return f"skipped: {message.state}"
            failed = FailedCall(message, error, item.facts, now)
            outcome = record_failed(session, failed, self.rules, self.rng)
        if outcome == "retry":
            metrics.count_retry(item.provider)
        if error.code in AMBIGUOUS:
            metrics.count_uncertain(item.provider)
        log.warning(
            "send.error",
            message_id=message_id,
            code=error.code,
            outcome=outcome,
            permanent=error.permanent,
        )
        return outcome
