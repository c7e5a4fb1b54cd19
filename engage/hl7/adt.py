"""ADT^A04 / A08 (register / update a patient) and A40 (merge) applied to engage's patients.

A patient is found by external_ref (PID-3) and written through the patients service the API
and console use (engage.patients.records), with its rule: a family may share a phone or an
email, but another patient of the same name on it is the same person entered twice, a conflict
for staff (AE), never a silent merge. A patient staff created without an external_ref is adopted
when its phone or email and name agree. The feed never writes consent: a patient it creates has
none (so nothing is sent until consent is recorded), and an opt-out stays as it is.
"""

from __future__ import annotations

from datetime import datetime

import hl7
from sqlalchemy import select
from sqlalchemy.orm import Session, joinedload

from engage.errors import Conflict, DuplicateError, InvalidInput
from engage.hl7.consent import grant_new, stated
from engage.hl7.demographics import Demographics, read_pid
from engage.hl7.fields import required
from engage.hl7.identity import identifier
from engage.hl7.outcome import ACTOR, Outcome
from engage.patients.matching import name_key
from engage.patients.records import create_patient, update_patient
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
    changes = _changes(patient, person)
    if patient is not None and not changes:
        return Outcome.applied(f"patient {patient.id} unchanged")
    verb = "created" if patient is None else "updated"
    written = _write(session, schedule, patient, changes, now)
    return Outcome.applied(f"patient {written.id} {verb}: {', '.join(sorted(changes))}")


def _write(
    session: Session,
    schedule: Schedule,
    patient: Patient | None,
    changes: dict[str, object],
    now: datetime,
) -> Patient:
    """Through the patients service, its refusals worded as the fields of the message."""
    try:
        if patient is None:
            clinic = {
                "timezone": schedule.clinic.timezone,
                "locale": schedule.clinic.default_locale,
            }
            return create_patient(session, {**clinic, **changes}, actor=ACTOR, now=now)
        return update_patient(session, patient.id, changes, actor=ACTOR, now=now)
    except DuplicateError as exc:
        field = "PID-3" if exc.field == "external_ref" else "PID-13"
        raise Conflict(
            f"{field}: the {exc.field} belongs to patient {exc.existing_id} of the same name "
            "(the same person twice?): staff decide"
        ) from None
    except InvalidInput as exc:
        if exc.field not in ("phone", "preferred_channel"):
            raise
        raise InvalidInput("PID-13", "no phone and no email: a patient needs one") from None


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


def _adoptable(session: Session, person: Demographics) -> Patient | None:
    """A patient without external_ref, same phone or email, and the same name: the same person
    (a family's shared phone may carry others: only the one of this name is adopted)."""
    for column, address in ((Patient.phone, person.phone), (Patient.email, person.email)):
        if address is None:
            continue
        query = select(Patient).where(column == address, Patient.external_ref.is_(None))
        for found in session.scalars(query.order_by(Patient.id)):
            if name_key(found.first_name, found.last_name) == name_key(
                person.first_name, person.last_name
            ):
                return found
    return None


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
