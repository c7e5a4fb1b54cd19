"""The one writer of consent: staff, imports, SMS keywords, provider errors, unsubscribes, HL7.

Every change is judged by `engage.consent.precedence` against the stored decision, then written
to the current row and the audit log in the caller's transaction. No other module writes the
consent table (tests/unit/test_consent_owner.py scans for it).

A phone may be shared (a family): a number's own STOP (texted, or Twilio 21610) closes SMS for
every patient on that number, and its START re-opens SMS for each patient that a STOP from the
number closed (and for the patient it was attributed to), whoever the text was attributed to.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from engage.consent.precedence import Current, Origin, Verdict, judge
from engage.store.audit import audit
from engage.store.bulk_insert import insert_rows
from engage.store.patients import Consent, ConsentEvent, Patient

NUMBER_STOPS = frozenset({"sms-stop", "twilio-21610"})  # the number's own "no"
NUMBER_STARTS = frozenset({"sms-start"})  # the number's own "yes again"

__all__ = ["Imported", "Origin", "Outcome", "change", "current", "record_imported"]


@dataclass(frozen=True)
class Outcome:
    changed: bool  # False when refused or when it already was so
    refused: str = ""  # the precedence rule that kept the stored decision, if one did


@dataclass(frozen=True)
class Imported:
    """One consent a CSV row states, already judged by the importer against `current`."""

    patient_id: int
    channel: str
    granted: bool
    source: str


def current(session: Session, patient_id: int, channel: str) -> Current | None:
    """The stored decision on one channel, as the precedence rules see it."""
    consent = _row(session, patient_id, channel)
    return None if consent is None else _as_current(consent)


def change(
    session: Session,
    patient_id: int,
    channel: str,
    *,
    granted: bool,
    source: str,
    actor: str,
    now: datetime,
    origin: Origin,
    notice: str = "",
    reason: str = "",
    occurred_at: datetime | None = None,
) -> Outcome:
    """Record one consent decision if the precedence rules allow it.

    A number's STOP or START (see NUMBER_STOPS) applies to each patient sharing the phone;
    `changed` is then True if it changed any of them.
    """
    decision = _Decision(granted, source, actor, now, origin, notice, reason, occurred_at)
    outcome = _change_one(session, patient_id, channel, decision)
    if channel != "sms" or source not in NUMBER_STOPS | NUMBER_STARTS:
        return outcome
    changed = outcome.changed
    for other in _sharing_phone(session, patient_id):
        if granted and not _closed_by_number(session, other):
            continue  # START re-opens what the number's STOP closed, not what staff closed
        changed = _change_one(session, other, channel, decision).changed or changed
    return Outcome(changed, outcome.refused)


@dataclass(frozen=True)
class _Decision:
    granted: bool
    source: str
    actor: str
    now: datetime
    origin: Origin
    notice: str
    reason: str
    occurred_at: datetime | None


def _sharing_phone(session: Session, patient_id: int) -> list[int]:
    """The other patients on this patient's phone, by id."""
    phone = select(Patient.phone).where(Patient.id == patient_id).scalar_subquery()
    return list(
        session.scalars(
            select(Patient.id)
            .where(Patient.phone == phone, Patient.id != patient_id)
            .order_by(Patient.id)
        )
    )


def _closed_by_number(session: Session, patient_id: int) -> bool:
    consent = _row(session, patient_id, "sms")
    return consent is not None and not consent.granted and consent.source in NUMBER_STOPS


def _change_one(session: Session, patient_id: int, channel: str, d: _Decision) -> Outcome:
    granted, source, actor, now, origin = d.granted, d.source, d.actor, d.now, d.origin
    notice, reason, occurred_at = d.notice, d.reason, d.occurred_at
    consent = _row(session, patient_id, channel)
    verdict: Verdict = judge(
        None if consent is None else _as_current(consent),
        granted=granted,
        origin=origin,
        occurred_at=occurred_at,
    )
    if not verdict.apply:
        return Outcome(False, verdict.reason)
    if _already(consent, granted, notice):
        return Outcome(False)
    before = None if consent is None else {"granted": consent.granted, "source": consent.source}
    if consent is None:
        consent = Consent(patient_id=patient_id, channel=channel, notice="")
        session.add(consent)
    consent.granted = granted
    consent.changed_at = now
    consent.source = source[:32]
    if granted and notice:
        consent.notice = notice
    session.add(
        ConsentEvent(
            patient_id=patient_id,
            channel=channel,
            granted=granted,
            at=now,
            source=consent.source,
            actor=actor[:64],
            origin=origin.value,
            notice=consent.notice if granted else "",
            reason=reason,
        )
    )
    after: dict[str, object] = {"channel": channel, "granted": granted, "source": consent.source}
    if reason:
        after["reason"] = reason
    audit(
        session,
        actor=actor,
        action=f"consent.{'granted' if granted else 'closed'}",
        entity="patient",
        entity_id=patient_id,
        before={"channel": channel, **before} if before else None,
        after=after | {"origin": origin.value},
        at=now,
    )
    session.flush()
    return Outcome(True)


def record_imported(
    session: Session,
    items: Iterable[Imported],
    now: datetime,
    actor: str,
    *,
    new_patients: bool = False,
) -> None:
    """Write a batch of import consents in bulk (the importer judged each one already).

    `new_patients`: the patients were created in this batch, so none has a row yet (one query
    fewer per batch: imports are measured in statements per batch).
    """
    items = list(items)
    if not items:
        return
    existing = {} if new_patients else _ids(session, {item.patient_id for item in items})
    new, changed = [], []
    for item in items:
        values = {
            "patient_id": item.patient_id,
            "channel": item.channel,
            "granted": item.granted,
            "changed_at": now,
            "source": item.source[:32],
            "notice": "",
        }
        consent_id = existing.get((item.patient_id, item.channel))
        if consent_id is None:
            new.append(values)
        else:
            changed.append({"id": consent_id, **values})
    insert_rows(session, Consent, new)  # COPY on PostgreSQL: see engage.store.bulk_insert
    if changed:
        session.execute(update(Consent), changed)
    ledger = {"actor": actor[:64], "origin": Origin.IMPORT.value, "reason": ""}
    insert_rows(
        session,
        ConsentEvent,
        [
            {"at": now, **{k: v for k, v in values.items() if k not in ("changed_at", "id")}}
            | ledger
            for values in new + changed
        ],
    )


def history(session: Session, patient_id: int) -> list[ConsentEvent]:
    """Every consent decision on record for the patient, oldest first (the audit's ledger)."""
    return list(
        session.scalars(
            select(ConsentEvent)
            .where(ConsentEvent.patient_id == patient_id)
            .order_by(ConsentEvent.at, ConsentEvent.id)
        )
    )


def _ids(session: Session, patient_ids: set[int]) -> dict[tuple[int, str], int]:
    rows = session.execute(
        select(Consent.id, Consent.patient_id, Consent.channel).where(
            Consent.patient_id.in_(patient_ids)
        )
    )
    return {(patient_id, channel): consent_id for consent_id, patient_id, channel in rows}


def _already(consent: Consent | None, granted: bool, notice: str) -> bool:
    """Setting a consent to what it already is changes nothing (a new notice version does)."""
    if consent is None or consent.granted != granted:
        return False
    return not granted or notice in ("", consent.notice)


def _row(session: Session, patient_id: int, channel: str) -> Consent | None:
    return session.execute(
        select(Consent).where(Consent.patient_id == patient_id, Consent.channel == channel)
    ).scalar_one_or_none()


def _as_current(consent: Consent) -> Current:
    return Current(consent.granted, consent.source, consent.changed_at)
