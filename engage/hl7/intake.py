"""One received message, from bytes to ACK: durable before acknowledged, applied exactly once.

The journal row (raw text), the patient and appointment changes and their re-planned messages
commit in ONE transaction before the ACK is written: the services' own commit() only flushes
into it, and their rollback() discards all of it (`join_transaction_mode="rollback_only"`).
A listener killed at any point has either stored and applied a message, or neither; the sender
resends what it did not get an ACK for, and the (sender, MSH-10) key turns a resent message
into the same answer, applied once.
A message engage cannot apply is rolled back whole and stored alone as a dead letter (AE).
A database that does not answer is no answer at all: the caller closes the connection, unacked.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import cast
from zoneinfo import ZoneInfo

import hl7
import phonenumbers
from sqlalchemy import Engine, Table, insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from engage.errors import Conflict, EngageError, InvalidInput, NotFound
from engage.hl7 import ack
from engage.hl7.adt import apply_adt
from engage.hl7.fields import Header, NotHl7, header, parse
from engage.hl7.outcome import Outcome
from engage.hl7.siu import apply_siu, write_link
from engage.hl7.util import decode
from engage.logs import get_logger
from engage.schedule.models import Schedule
from engage.store.audit import audit
from engage.store.hl7 import Hl7Message, Hl7State

log = get_logger("engage.hl7")
_JOURNAL = cast(Table, Hl7Message.__table__)
_RETRIES = 3  # a unique-key race with another connection is retried, then reported


@dataclass(frozen=True)
class Reply:
    """The ACK text to send back, its code, and what it answered (for metrics)."""

    ack: str
    code: str  # AA, AE, AR
    message_type: str
    duplicate: bool = False


def _now() -> datetime:
    return datetime.now(UTC)


class Intake:
    """Applies messages against one database and schedule; thread-safe (one session a call)."""

    def __init__(
        self,
        engine: Engine,
        schedule: Schedule,
        clock: Callable[[], datetime] = _now,
        *,
        set_wise: bool = True,  # False: SIU through the ORM services only (tests compare both)
    ) -> None:
        self.engine, self.schedule, self.clock, self.set_wise = engine, schedule, clock, set_wise
        self.zone = ZoneInfo(schedule.clinic.timezone)
        self.region = schedule.hl7.phone_region or _region_of(schedule.clinic.phone)

    def handle(self, raw: bytes) -> Reply:
        try:
            message = parse(decode(raw))
        except NotHl7 as exc:
            log.info("hl7.rejected", reason=str(exc))
            return Reply(ack.reject(f"not an HL7 v2 message: {exc}"), "AR", "unknown")
        head = header(message, self.zone)
        for attempt in range(_RETRIES):
            try:
                # The first try does not look the message up (one query less on the common
                # path); a unique-key clash means a resent copy, which the next try looks up.
                return self._once(message, head, decode(raw), look_up=attempt > 0)
            except IntegrityError:
                if attempt == _RETRIES - 1:
                    raise
        raise AssertionError("unreachable")

    def _once(self, message: hl7.Message, head: Header, text: str, look_up: bool) -> Reply:
        try:
            with applying(self.engine) as session:
                found = _journal_row(session, head) if look_up else None
                if found is not None:
                    return _replay(message, found)
                outcome = self.apply(session, message, head)
                # Inserted last, with its outcome: one INSERT, no UPDATE after it. A resent
                # copy still applies once: its insert clashes on (sender, MSH-10), everything
                # it did rolls back, and the retry answers from the first copy.
                journal_id = self._insert(session, head, text, outcome)
                if outcome.link is not None:
                    write_link(session, outcome.link, journal_id)
        except EngageError as exc:  # everything it did is rolled back; the row stays, alone
            return self._dead_letter(message, head, text, exc)
        _log(head, journal_id, "AA", outcome.state)
        return Reply(ack.accept(message), "AA", head.message_type)

    def _row(self, head: Header, text: str, state: Hl7State, code: str) -> Hl7Message:
        """The journal row; reason, error_field and attempts start at the model's defaults."""
        return Hl7Message(
            **asdict(head), raw=text, state=state, ack_code=code, received_at=self.clock()
        )

    def _insert(self, session: Session, head: Header, text: str, outcome: Outcome) -> int:
        """The journal row of an applied message, in Core (no ORM object to flush); its id."""
        values = {**asdict(head), "raw": text, "state": outcome.state, "ack_code": "AA"}
        values |= {"reason": outcome.reason[:2000], "received_at": self.clock()}
        statement = insert(_JOURNAL).values(**values).returning(_JOURNAL.c.id)
        return int(session.connection().execute(statement).scalar_one())

    def apply(self, session: Session, message: hl7.Message, head: Header) -> Outcome:
        """Apply a parsed message inside `session` (raising EngageError when it cannot be)."""
        kind = head.message_type.partition("^")[0]
        event = head.message_type.partition("^")[2]
        now = self.clock()
        try:
            if kind == "ADT":
                return apply_adt(session, self.schedule, message, event, self.region, now)
            if kind == "SIU":
                return apply_siu(session, self.schedule, message, head, now, set_wise=self.set_wise)
        except (KeyError, IndexError, ValueError, TypeError) as exc:
            # python-hl7 raises these for shapes it cannot walk: a field engage cannot read.
            raise InvalidInput("message", f"unreadable structure ({type(exc).__name__})") from None
        return Outcome.ignored(f"{head.message_type} is not a message type engage reads")

    def _dead_letter(
        self, message: hl7.Message, head: Header, text: str, exc: EngageError
    ) -> Reply:
        reason, kind = describe(exc)
        with applying(self.engine) as session:
            row = self._row(head, text, Hl7State.FAILED, "AE")
            row.reason, row.error_field = reason[:2000], field_of(exc)
            session.add(row)
        _log(head, row.id, "AE", Hl7State.FAILED)
        return Reply(ack.error(message, reason, kind), "AE", head.message_type)


@contextmanager
def applying(engine: Engine) -> Iterator[Session]:
    """One outer transaction; services' commit() only flushes, their rollback() ends it.

    Leaving the block commits everything; an exception rolls all of it back.
    """
    with engine.connect() as connection:
        outer = connection.begin()
        session = Session(
            bind=connection, join_transaction_mode="rollback_only", expire_on_commit=False
        )
        try:
            yield session
            session.flush()
            if outer.is_active:
                outer.commit()
        except BaseException:
            if outer.is_active:
                outer.rollback()
            raise
        finally:
            session.close()


def _journal_row(session: Session, head: Header) -> Hl7Message | None:
    query = select(Hl7Message).where(
        Hl7Message.sender == head.sender, Hl7Message.control_id == head.control_id
    )
    return session.scalars(query).first()


def _replay(message: hl7.Message, row: Hl7Message) -> Reply:
    """A resent message gets the answer its first copy got; nothing is applied again."""
    log.info("hl7.duplicate", journal_id=row.id, state=row.state)
    if row.ack_code == "AE" and row.state == Hl7State.FAILED:
        return Reply(ack.error(message, row.reason, "unknown"), "AE", row.message_type, True)
    return Reply(ack.accept(message), "AA", row.message_type, True)


def describe(exc: EngageError) -> tuple[str, str]:
    """The dead letter's reason and its ERR-3 kind."""
    if isinstance(exc, NotFound):
        return str(exc), "unknown"
    if isinstance(exc, InvalidInput):
        return str(exc), "missing" if "missing" in exc.problem or "no " in exc.problem else "field"
    if isinstance(exc, Conflict):
        return str(exc), "conflict"
    return f"cannot apply: {exc}", "internal"


def field_of(exc: EngageError) -> str:
    if isinstance(exc, InvalidInput):
        return exc.field[:16]
    text = str(exc)
    head = text.split(":", 1)[0]
    return head[:16] if "-" in head and len(head) <= 8 else ""


def _log(head: Header, row_id: int | None, code: str, state: Hl7State) -> None:
    # Ids and types only: the message itself is PHI.
    log.info("hl7.received", journal_id=row_id, type=head.message_type, ack=code, state=state)


def _region_of(phone: str) -> str:
    try:
        return phonenumbers.region_code_for_number(phonenumbers.parse(phone, None)) or "US"
    except phonenumbers.NumberParseException:
        return "US"


def reapply(intake: Intake, journal_id: int, actor: str) -> Hl7Message:
    """Apply a dead letter again (its cause fixed by staff): the same path as when received.

    Raises NotFound (no such row) or Conflict (not a dead letter). On success the row takes the
    new state (applied, ignored or stale) with a note of who re-applied it; on failure it stays
    a dead letter with the new reason and one more attempt.
    """
    try:
        with applying(intake.engine) as session:
            row = _dead_letter_row(session, journal_id)
            message = parse(row.raw)
            head = header(message, intake.zone)
            outcome = intake.apply(session, message, head)
            if outcome.link is not None:
                write_link(session, outcome.link, row.id)
            row.state = outcome.state
            row.reason = f"re-applied by {actor}: {outcome.reason}"[:2000]
            row.attempts += 1
            row.updated_at = intake.clock()
            _audit(session, row, actor)
            log.info("hl7.reapplied", journal_id=row.id, state=row.state)
            return row
    except (NotFound, Conflict) as exc:
        if str(exc).startswith("hl7 message"):
            raise
        failure: EngageError = exc
    except (EngageError, NotHl7) as exc:
        failure = exc
    reason, _kind = describe(failure)
    with applying(intake.engine) as session:
        row = _dead_letter_row(session, journal_id)
        row.reason, row.error_field = reason[:2000], field_of(failure)
        row.attempts += 1
        row.updated_at = intake.clock()
        _audit(session, row, actor)
    log.info("hl7.reapply-failed", journal_id=journal_id)
    return row


def _audit(session: Session, row: Hl7Message, actor: str) -> None:
    """Who re-applied which dead letter and what became of it (ids and states: no content)."""
    what = {"state": row.state, "attempts": row.attempts, "error_field": row.error_field}
    table = Hl7Message.__tablename__
    audit(session, actor=actor, action="hl7.reapply", entity=table, entity_id=row.id, after=what)


def _dead_letter_row(session: Session, journal_id: int) -> Hl7Message:
    row = session.get(Hl7Message, journal_id, with_for_update=True)
    if row is None:
        raise NotFound(f"hl7 message {journal_id} not found")
    if row.state != Hl7State.FAILED:
        raise Conflict(f"hl7 message {journal_id} is {row.state}, not a dead letter")
    return row
