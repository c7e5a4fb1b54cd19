"""ADT^A04 / A08 (register / update a patient) and A40 (merge) applied to engage's patients.

A patient is found by external_ref (PID-3). A phone or email already on another patient is a
conflict for staff, never a silent merge; a patient staff created without an external_ref is
adopted only when the name agrees. The feed never writes consent: a patient it creates has none
(so nothing is sent until consent is recorded), and an opt-out stays as it is.
"""

from __future__ import annotations

from datetime import datetime

import hl7
from sqlalchemy import select
from sqlalchemy.orm import Session, joinedload

from engage.errors import Conflict
from engage.hl7.consent import grant_new, stated
from engage.hl7.demographics import Demographics, read_pid
from engage.hl7.fields import required
from engage.hl7.identity import identifier
from engage.hl7.outcome import ACTOR, Outcome
from engage.schedule.models import Schedule
from engage.store.audit import audit
from engage.store.patients import Patient

UPSERT_EVENTS = ("A04", "A08", "A28", "A31")
MERGE_EVENT = "A40"


def apply_adt(
    session: Session,
    schedule: Schedule,
    message: hl7.Message,
    event: str,
    region: str,
    now: datetime,
) -> Outcome:
    if event not in (*UPSERT_EVENTS, MERGE_EVENT):
        return Outcome.ignored(f"ADT^{event} is not an event engage reads")
    person = read_pid(required(message, "PID"), schedule.hl7, region)
    if event == MERGE_EVENT:
        _merge(session, message, schedule, person, now)
    outcome = upsert(session, schedule, person, now)
    channels = stated(message, schedule.hl7)
    patient = by_ref(session, person.external_ref) if channels else None
    granted = grant_new(patient, channels, session, now) if patient is not None else []
    if granted:
        session.flush()
        return Outcome.applied(f"{outcome.reason}; consent recorded: {', '.join(granted)}")
    return outcome


def by_ref(session: Session, ref: str) -> Patient | None:
    """The patient whose external_ref is `ref`, its consents loaded in the same query."""
    query = select(Patient).options(joinedload(Patient.consents)).where(Patient.external_ref == ref)
    return session.scalars(query).unique().one_or_none()  # external_ref is unique


def upsert(session: Session, schedule: Schedule, person: Demographics, now: datetime) -> Outcome:
    patient = by_ref(session, person.external_ref) or _adoptable(session, person)
    _check_owners(session, patient, person)
    changes = _changes(patient, person)
    if patient is None:
        defaults: dict[str, object] = {
            "timezone": schedule.clinic.timezone,
            "locale": schedule.clinic.default_locale,
            "preferred_channel": "sms" if person.phone else "email",
            "created_at": now,
        }
        patient = Patient(**{**defaults, **changes})
        session.add(patient)
        action = "patient.create"
    elif not changes:
        return Outcome.applied(f"patient {patient.id} unchanged")
    else:
        for name, new in changes.items():
            setattr(patient, name, new)
        action = "patient.update"
    patient.updated_at = now
    session.flush()
    audit(
        session,
        actor=ACTOR,
        action=action,
        entity="patient",
        entity_id=patient.id,
        after={"fields": sorted(changes)},
        at=now,
    )
    verb = "created" if action == "patient.create" else "updated"
    return Outcome.applied(f"patient {patient.id} {verb}: {', '.join(sorted(changes))}")


def _changes(patient: Patient | None, person: Demographics) -> dict[str, object]:
    wanted: dict[str, object] = {
        "external_ref": person.external_ref,
        "first_name": person.first_name,
        "last_name": person.last_name,
    }
    # A blank PID-13 or PID-15 never clears what engage holds: feeds often leave them empty.
    for name in ("phone", "email", "locale"):
        if getattr(person, name) is not None:
            wanted[name] = getattr(person, name)
    if patient is None:
        return wanted
    return {name: new for name, new in wanted.items() if getattr(patient, name) != new}


def _owner(session: Session, column: object, address: str | None) -> Patient | None:
    if address is None:
        return None
    return session.scalars(select(Patient).where(column == address)).first()  # type: ignore[arg-type]


def _adoptable(session: Session, person: Demographics) -> Patient | None:
    """A patient without external_ref, same phone or email, and the same name: the same person."""
    for column, address in ((Patient.phone, person.phone), (Patient.email, person.email)):
        found = _owner(session, column, address)
        if found is not None and found.external_ref is None and _same_name(found, person):
            return found
    return None


def _check_owners(session: Session, patient: Patient | None, person: Demographics) -> None:
    for label, column, address in (
        ("phone", Patient.phone, person.phone),
        ("email", Patient.email, person.email),
    ):
        owner = _owner(session, column, address)
        if owner is not None and owner is not patient:
            raise Conflict(
                f"PID-13: the {label} already belongs to patient {owner.id} "
                "(another person or record): staff decide"
            )


def _same_name(patient: Patient, person: Demographics) -> bool:
    return (patient.first_name.casefold(), patient.last_name.casefold()) == (
        person.first_name.casefold(),
        person.last_name.casefold(),
    )


def _merge(
    session: Session, message: hl7.Message, schedule: Schedule, person: Demographics, now: datetime
) -> None:
    """A40: the prior identifier (MRG-1) becomes PID-3's; two engage patients need staff."""
    prior_ref = identifier(required(message, "MRG"), 1, schedule.hl7.identifier_authority, "MRG-1")
    prior = by_ref(session, prior_ref)
    if prior is None:
        return
    survivor = by_ref(session, person.external_ref)
    if survivor is not None and survivor is not prior:
        raise Conflict(
            f"MRG-1: patients {prior.id} and {survivor.id} both exist in engage: staff merge them"
        )
    prior.external_ref = person.external_ref
    audit(
        session,
        actor=ACTOR,
        action="patient.merge",
        entity="patient",
        entity_id=prior.id,
        after={"fields": ["external_ref"]},
        at=now,
    )
    session.flush()
