"""The importer's bulk writes: one INSERT or UPDATE statement per batch, consents with them.

A row and its consents go in the same transaction, so no patient is ever stored without the
consent its row stated. The audit shows which fields an import changed, never their values
(no contact data in the audit log).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import insert, update
from sqlalchemy.orm import Session

from engage.consent.service import Imported, record_imported
from engage.patients.matching import Decision
from engage.patients.rows import PatientRow
from engage.store.audit import AuditLog
from engage.store.patients import Patient

Pair = tuple[PatientRow, Decision]


def _identity(values: dict[str, object]) -> tuple[object, ...]:
    # Unique within a batch: the importer never lets two rows of a file share a ref, nor a name
    # on the same phone or email.
    return tuple(
        values.get(k) for k in ("external_ref", "first_name", "last_name", "phone", "email")
    )


def insert_new(session: Session, created: list[Pair], now: datetime, actor: str) -> None:
    if not created:
        return
    # RETURNING the identifying columns, so ids are matched to rows by value: asking the
    # database to keep parameter order makes SQLite insert row by row.
    returned = session.execute(
        insert(Patient).returning(
            Patient.id,
            Patient.external_ref,
            Patient.first_name,
            Patient.last_name,
            Patient.phone,
            Patient.email,
        ),
        [decision.changes | {"created_at": now, "updated_at": now} for _, decision in created],
    ).all()
    ids: dict[tuple[object, ...], int] = {tuple(found[1:]): found[0] for found in returned}
    record_imported(
        session,
        (
            Imported(ids[_identity(decision.changes)], channel, granted, row.consent_source)
            for row, decision in created
            for channel, granted in decision.consents.items()
        ),
        now,
        actor,
        new_patients=True,
    )


def update_existing(session: Session, updated: list[Pair], now: datetime, actor: str) -> None:
    if not updated:
        return
    changed = [d for _, d in updated if d.changes]
    if changed:
        session.execute(
            update(Patient), [{"id": d.patient_id, **d.changes, "updated_at": now} for d in changed]
        )
    items = []
    for row, decision in updated:
        assert decision.patient_id is not None
        items += [
            Imported(decision.patient_id, channel, granted, row.consent_source)
            for channel, granted in decision.consents.items()
        ]
    record_imported(session, items, now, actor)
    session.execute(insert(AuditLog), [_audit_values(d, actor, now) for _, d in updated])


def _audit_values(decision: Decision, actor: str, now: datetime) -> dict[str, object]:
    after: dict[str, object] = {"fields": sorted(decision.changes)}
    after |= {f"{channel}_consent": granted for channel, granted in decision.consents.items()}
    return {
        "at": now,
        "actor": actor,
        "action": "patient.import-update",
        "entity": "patient",
        "entity_id": str(decision.patient_id),
        "before": None,
        "after": after,
    }
