"""The importer's bulk writes: one COPY (PostgreSQL), INSERT or UPDATE per batch and table.

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
from engage.store.bulk_insert import insert_returning_ids, insert_rows
from engage.store.patients import Patient

Pair = tuple[PatientRow, Decision]
# Unique within a batch: the importer never lets two rows of a file share a ref, nor a name on
# the same phone or email.
_IDENTITY = (
    Patient.external_ref,
    Patient.first_name,
    Patient.last_name,
    Patient.phone,
    Patient.email,
)


def insert_new(session: Session, created: list[Pair], now: datetime, actor: str) -> None:
    if not created:
        return
    ids = _insert_patients(
        session, [d.changes | {"created_at": now, "updated_at": now} for _, d in created]
    )
    record_imported(
        session,
        (
            Imported(patient_id, channel, granted, row.consent_source)
            for patient_id, (row, decision) in zip(ids, created, strict=True)
            for channel, granted in decision.consents.items()
        ),
        now,
        actor,
        new_patients=True,
    )


def _insert_patients(session: Session, rows: list[dict[str, object]]) -> list[int]:
    """The new patients' ids, in the order of `rows`."""
    if session.get_bind().dialect.name == "postgresql":
        # COPY, ids drawn from the sequence first: a thousand-row INSERT ... RETURNING is
        # parsed again by the driver for every batch (most of an import's CPU when measured).
        return insert_returning_ids(session, Patient, rows)
    # RETURNING the identifying columns, so ids are matched to rows by value: asking the
    # database to keep parameter order makes SQLite insert row by row.
    returned = session.execute(insert(Patient).returning(Patient.id, *_IDENTITY), rows).all()
    ids: dict[tuple[object, ...], int] = {tuple(found[1:]): found[0] for found in returned}
    return [ids[tuple(row.get(column.key) for column in _IDENTITY)] for row in rows]


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
    insert_rows(session, AuditLog, [_audit_values(d, actor, now) for _, d in updated])


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
