"""Creating, changing, finding and searching patients: what the API, console and CLI call.

An external reference (MRN) that already belongs to another patient is refused with
DuplicateError naming that patient: it is the patient's identity. A phone or an email may be
shared (a family on one number); only another patient of the same name on it is refused, as
the same person entered twice. Every change is audited; contact details
appear there as a hash.
"""

from __future__ import annotations

import contextlib
import hashlib
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, func, or_, select, union
from sqlalchemy.orm import Session

from engage.errors import DuplicateError, InvalidInput, NotFound
from engage.patients.matching import name_key
from engage.patients.rows import normalize_email, normalize_phone
from engage.store.audit import audit_change
from engage.store.messages import Message
from engage.store.patients import Patient
from engage.text.fold import fold

KEYS = ("external_ref", "phone", "email")
REQUIRED = ("first_name", "last_name", "timezone", "locale", "preferred_channel")
_CONTACT = frozenset({"phone", "email"})


def load_patient(session: Session, patient_id: int) -> Patient:
    """The patient `patient_id`, or NotFound."""
    patient = session.get(Patient, patient_id)
    if patient is None:
        raise NotFound(f"patient {patient_id} not found")
    return patient


def create_patient(
    session: Session, values: dict[str, Any], *, actor: str, now: datetime
) -> Patient:
    """Store a patient from validated values, in the caller's transaction."""
    values = dict(values)
    values["preferred_channel"] = values.get("preferred_channel") or (
        "sms" if values.get("phone") else "email"
    )
    check_reachable(values)
    refuse_duplicates(session, values, None, (values["first_name"], values["last_name"]))
    patient = Patient(**values, created_at=now, updated_at=now)
    session.add(patient)
    session.flush()
    audit_change(session, patient, "patient.create", actor=actor, after=audit_view(values), at=now)
    return patient


def update_patient(
    session: Session, patient_id: int, given: dict[str, Any], *, actor: str, now: datetime
) -> Patient:
    """Change the fields in `given` (validated values); audits before and after."""
    for required in REQUIRED:
        if required in given and given[required] is None:
            raise InvalidInput(required, "cannot be empty")
    patient = load_patient(session, patient_id)
    changes = {k: v for k, v in given.items() if getattr(patient, k) != v}
    if not changes:
        return patient
    before = {k: getattr(patient, k) for k in changes}
    check_reachable({k: getattr(patient, k) for k in (*KEYS, "preferred_channel")} | changes)
    name = (
        changes.get("first_name", patient.first_name),
        changes.get("last_name", patient.last_name),
    )
    refuse_duplicates(session, changes, patient.id, name)
    for key, value in changes.items():
        setattr(patient, key, value)
    patient.updated_at = now
    audit_change(
        session,
        patient,
        "patient.update",
        actor=actor,
        before=audit_view(before),
        after=audit_view(changes),
        at=now,
    )
    session.flush()
    return patient


def search_query(
    name: str | None = None, phone: str | None = None, email: str | None = None
) -> Select[Patient]:
    """Patients matching every criterion given (all when none is), by id."""
    query = select(Patient).order_by(Patient.id)
    if name and name.strip():
        pattern = f"%{_literal(fold(name.strip()))}%"
        full = func.engage_fold(Patient.first_name + " " + Patient.last_name)
        last = func.engage_fold(Patient.last_name)
        query = query.where(or_(full.like(pattern, escape="\\"), last.like(pattern, escape="\\")))
    if phone and (digits := "".join(ch for ch in phone if ch.isdigit())):
        query = query.where(Patient.phone.like(f"%{digits}%"))
    if email and email.strip():
        query = query.where(Patient.email.like(f"%{email.strip().lower()}%"))
    return query


def find(session: Session, text: str, *, limit: int, offset: int) -> list[Patient]:
    """One search box: an external reference, an email, a phone, or a name (indexed first);
    nothing typed lists the newest patients first.

    Exact keys are tried before the name: they hit an index, so the front desk typing a phone
    or a chart number gets its patient (or a family's patients) at once, whatever the size.
    """
    text = text.strip()
    if not text:  # the patients the front desk just added or imported come first
        newest = select(Patient).order_by(Patient.id.desc())
        return list(session.scalars(newest.limit(limit).offset(offset)))
    exact = _exact_matches(session, text)
    if exact:
        return exact[offset : offset + limit]
    lowered = text.lower()
    if "@" in lowered:
        query = search_query(email=lowered)
    elif sum(ch.isdigit() for ch in text) >= 4 and not any(ch.isalpha() for ch in text):
        query = search_query(phone=text)
    else:
        return _by_name(session, _literal(fold(text)), limit=limit, offset=offset)
    return list(session.scalars(query.limit(limit).offset(offset)))


def _by_name(session: Session, text: str, *, limit: int, offset: int) -> list[Patient]:
    """Patients whose name matches, alphabetically as people read it ("Álvarez" among the A's).

    Each way the name can match ("s": the last name starts so, or the first) is its own
    ordered, limited read, then the pages are merged: alone, each is a range of the name-order
    index read in order (migration 0020) or a few rows sorted, where OR-ing them made
    PostgreSQL fetch and sort every match (1.2 s for one letter at a million patients).
    """
    byte_order = "C" if session.get_bind().dialect.name == "postgresql" else None
    last, first = (_folded(c, byte_order) for c in (Patient.last_name, Patient.first_name))
    pages = [
        select(Patient.id.label("id"), last.label("last"), first.label("first"))
        .where(condition)
        .order_by(last, first, Patient.id)
        .limit(offset + limit)
        .subquery()
        for condition in _name_matches(text, last, first)
    ]
    merged = union(*(select(page.c.id, page.c.last, page.c.first) for page in pages)).subquery()
    query = (
        select(Patient)
        .join(merged, merged.c.id == Patient.id)
        .order_by(merged.c.last, merged.c.first, merged.c.id)
    )
    return list(session.scalars(query.limit(limit).offset(offset)))


def _folded(column: Any, byte_order: str | None) -> ColumnElement[str]:
    folded: ColumnElement[str] = func.engage_fold(column)
    return folded.collate(byte_order) if byte_order else folded


def _name_matches(
    text: str, last_name: ColumnElement[str], first_name: ColumnElement[str]
) -> list[ColumnElement[bool]]:
    """A name as the front desk types it, each part a prefix of the folded name (indexed):
    "ana", "ana gar" or "garcia ana" (either order, accents or not), or "García, Ana" as the
    lists show it; each way it can match. `text` is folded already (engage.text.fold), and so
    are the two names."""

    def starts(name: ColumnElement[str], prefix: str) -> ColumnElement[bool]:
        return name.like(f"{prefix.strip()}%", escape="\\")

    last, comma, first = text.partition(",")
    if comma and last.strip() and first.strip():
        return [and_(starts(last_name, last), starts(first_name, first))]
    one, _, rest = " ".join(text.replace(",", " ").split()).partition(" ")
    if not rest:
        return [starts(last_name, one), starts(first_name, one)]
    return [
        and_(starts(first_name, one), starts(last_name, rest)),
        and_(starts(last_name, one), starts(first_name, rest)),
    ]


def _literal(text: str) -> str:
    """`text` matched as typed in a LIKE pattern: % and _ are not wildcards from the search box."""
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _exact_matches(session: Session, text: str) -> list[Patient]:
    """Patients under this exact ref, phone or email: a family's shared phone finds each one."""
    candidates: list[tuple[Any, str]] = [(Patient.external_ref, text)]
    with contextlib.suppress(ValueError):
        candidates.append((Patient.phone, normalize_phone(text)))
    if "@" in text:
        with contextlib.suppress(ValueError):
            candidates.append((Patient.email, normalize_email(text)))
    for column, value in candidates:
        found = list(session.scalars(select(Patient).where(column == value).order_by(Patient.id)))
        if found:
            return found
    return []


def reply_owner(session: Session, phone: str) -> Patient | None:
    """Whose reply a text from `phone` is: the patient of the latest SMS sent to that number.

    A family may share the number; a reply (C, HELP, free text) answers the last message the
    number got. When none was ever sent, the number's first patient (by id), if any.
    """
    latest = session.scalar(
        select(Patient)
        .join(Message, Message.patient_id == Patient.id)
        .where(Patient.phone == phone, Message.channel == "sms", Message.sent_at.is_not(None))
        .order_by(Message.sent_at.desc(), Message.id.desc())
        .limit(1)
    )
    if latest is not None:
        return latest
    return session.scalar(select(Patient).where(Patient.phone == phone).order_by(Patient.id))


def check_reachable(values: dict[str, Any]) -> None:
    if not values.get("phone") and not values.get("email"):
        raise InvalidInput("phone", "a patient needs a phone or an email")
    preferred = values.get("preferred_channel")
    needed = {"sms": "phone", "email": "email"}.get(preferred or "")
    if needed and not values.get(needed):
        raise InvalidInput("preferred_channel", f"{preferred}, but there is no {needed}")


def refuse_duplicates(
    session: Session, values: dict[str, Any], own_id: int | None, name: tuple[str, str]
) -> None:
    """DuplicateError for another patient's external_ref, or the same name on a phone/email."""
    for key in KEYS:
        value = values.get(key)
        if value is None:
            continue
        query = select(Patient.id, Patient.first_name, Patient.last_name).where(
            getattr(Patient, key) == value
        )
        if own_id is not None:
            query = query.where(Patient.id != own_id)
        for existing, first, last in session.execute(query.order_by(Patient.id)):
            if key == "external_ref" or name_key(first, last) == name_key(*name):
                raise DuplicateError(key, existing)


def audit_view(values: dict[str, Any]) -> dict[str, Any]:
    """Contact details appear as a short hash: the audit shows they changed, not to what."""
    return {
        key: _fingerprint(value) if key in _CONTACT and value else value
        for key, value in values.items()
    }


def _fingerprint(value: str) -> str:
    return "sha256:" + hashlib.sha256(value.encode()).hexdigest()[:12]
