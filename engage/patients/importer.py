"""`import_csv`: validate every row of a patients CSV, then write the good ones in batches.

A row and its consents are written in the same transaction, so no patient is ever stored without
the consent its row stated. Re-importing the same file changes nothing. Bad rows are reported as
`FILE.csv:LINE: field: problem` and never stop the good ones.

Speed matters (clinics import tens of thousands of patients): each batch costs one query to load
the stored patients it may match, one for their consents, then bulk INSERT/UPDATE statements.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from pydantic import ValidationError as PydanticValidationError
from sqlalchemy import (
    ARRAY,
    ColumnElement,
    Integer,
    String,
    any_,
    bindparam,
    insert,
    select,
    union,
    update,
)
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from engage.consent.precedence import Current, held_by_patient
from engage.consent.service import Imported, record_imported
from engage.patients.csvfile import Record, read_records
from engage.patients.matching import FIELDS, KEYS, Decision, Stored, StoredIndex, decide
from engage.patients.rows import PatientRow, problems
from engage.store.audit import AuditLog, audit
from engage.store.base import utcnow
from engage.store.patients import Consent, Patient

BATCH_SIZE = 1000
Progress = Callable[[int, int], None]  # (rows done, rows in the file)
_KINDS = ("create", "update", "unchanged")


@dataclass(frozen=True)
class ImportReport:
    """What an import did; `problems` holds one `FILE.csv:LINE: field: problem` per finding."""

    path: str
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    rejected: int = 0
    kept_opted_out: int = 0  # rows asking to re-open a channel the patient closed themselves
    problems: tuple[str, ...] = ()

    @property
    def rows(self) -> int:
        return self.created + self.updated + self.unchanged + self.rejected

    @property
    def summary(self) -> str:
        return (
            f"{self.rows} rows: {self.created} created, {self.updated} updated, "
            f"{self.unchanged} unchanged, {self.rejected} rejected"
            + (f", {self.kept_opted_out} kept opted out" if self.kept_opted_out else "")
        )


@dataclass(frozen=True)
class _Valid:
    line: int
    row: PatientRow
    given: frozenset[str]  # columns whose cell was not blank


@dataclass
class _Tally:
    counts: dict[str, int] = field(default_factory=lambda: dict.fromkeys(_KINDS, 0))
    problems: list[tuple[int, str]] = field(default_factory=list)
    rejected_lines: set[int] = field(default_factory=set)
    kept_lines: set[int] = field(default_factory=set)

    def reject(self, line: int, problem: str) -> None:
        self.problems.append((line, problem))
        self.rejected_lines.add(line)


def import_csv(
    session_factory: sessionmaker[Session],
    path: Path | str,
    *,
    on_progress: Progress | None = None,
    actor: str = "cli",
    now: datetime | None = None,
) -> ImportReport:
    """Import the patients in `path`; raises engage.errors.InvalidInput for a bad header."""
    path = Path(path)
    now = now or utcnow()
    _, records = read_records(path)
    tally = _Tally()
    valid = _deduplicated(_validated(records, tally), tally)
    done = len(records) - len(valid)
    for batch in _chunks(valid, BATCH_SIZE):
        try:
            with session_factory.begin() as session:
                _write(session, batch, tally, actor, now)
        except IntegrityError:
            # Another writer stored a matching patient meanwhile: retry row by row so that only
            # the rows that really clash are rejected, each one whole.
            _write_one_by_one(session_factory, batch, tally, actor, now)
        done += len(batch)
        if on_progress:
            on_progress(done, len(records))
    report = ImportReport(
        path=str(path),
        created=tally.counts["create"],
        updated=tally.counts["update"],
        unchanged=tally.counts["unchanged"],
        rejected=len(tally.rejected_lines),
        kept_opted_out=len(tally.kept_lines),
        problems=tuple(
            f"{path.name}:{line}: {text}"
            for line, text in sorted(tally.problems, key=lambda p: p[0])
        ),
    )
    with session_factory.begin() as session:
        audit(
            session,
            actor=actor,
            action="patients.import",
            entity="patient",
            entity_id=path.name,
            after={kind: getattr(report, kind) for kind in ("created", "updated", "unchanged")}
            | {"rejected": report.rejected},
            at=now,
        )
    return report


def _validated(records: list[Record], tally: _Tally) -> Iterator[_Valid]:
    for record in records:
        if record.problem:
            tally.reject(record.line, record.problem)
            continue
        try:
            row = PatientRow.model_validate(record.cells)
        except PydanticValidationError as exc:
            for problem in problems(exc):
                tally.reject(record.line, problem)
            continue
        given = frozenset(name for name, cell in record.cells.items() if cell.strip())
        yield _Valid(record.line, row, given)


def _deduplicated(rows: Iterator[_Valid], tally: _Tally) -> list[_Valid]:
    """Rows whose keys no earlier row of the file used; later duplicates are rejected."""
    first_line: dict[tuple[str, object], int] = {}
    kept = []
    for item in rows:
        keys = [(key, getattr(item.row, key)) for key in KEYS if getattr(item.row, key)]
        clash = next(((key, first_line[key]) for key in keys if key in first_line), None)
        if clash:
            (name, _), line = clash
            tally.reject(item.line, f"{name}: same as line {line}")
            continue
        first_line.update(dict.fromkeys(keys, item.line))
        kept.append(item)
    return kept


def _chunks(items: list[_Valid], size: int) -> Iterator[list[_Valid]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _write_one_by_one(
    session_factory: sessionmaker[Session],
    batch: list[_Valid],
    tally: _Tally,
    actor: str,
    now: datetime,
) -> None:
    for item in batch:
        try:
            with session_factory.begin() as session:
                _write(session, [item], tally, actor, now)
        except IntegrityError:
            tally.reject(item.line, "row: clashes with a patient stored meanwhile; import again")


def _write(session: Session, batch: list[_Valid], tally: _Tally, actor: str, now: datetime) -> None:
    index = StoredIndex(_load_stored(session, [item.row for item in batch]))
    decisions = [(item, decide(item.row, set(item.given), index)) for item in batch]
    for item, decision in decisions:
        if decision.kind == "reject":
            tally.reject(item.line, decision.problem)
    _insert_new(session, [(i, d) for i, d in decisions if d.kind == "create"], actor, now)
    _update_existing(session, [(i, d) for i, d in decisions if d.kind == "update"], actor, now)
    # Counted only now: a batch that fails is retried row by row and counted there.
    for item, decision in decisions:
        if decision.kind in _KINDS:
            tally.counts[decision.kind] += 1
        for note in decision.notes:
            tally.problems.append((item.line, note))
            tally.kept_lines.add(item.line)


def _load_stored(session: Session, rows: list[PatientRow]) -> list[Stored]:
    columns = [Patient.id, *(getattr(Patient, name) for name in FIELDS)]
    # One SELECT per key joined by UNION, not one SELECT with OR: each branch is planned on its
    # own unique index. With OR, PostgreSQL's generic plan for a prepared statement can fall back
    # to a sequential scan comparing every row with every key (seconds per batch).
    branches = [
        select(*columns).where(_one_of(session, getattr(Patient, key), values))
        for key in KEYS
        if (values := [getattr(row, key) for row in rows if getattr(row, key)])
    ]
    if not branches:
        return []
    found = session.execute(union(*branches)).all()
    consents: dict[int, dict[str, bool]] = {row.id: {} for row in found}
    held: dict[int, dict[str, str]] = {row.id: {} for row in found}
    if consents:
        for patient_id, channel, granted, source, changed_at in session.execute(
            select(
                Consent.patient_id,
                Consent.channel,
                Consent.granted,
                Consent.source,
                Consent.changed_at,
            ).where(_one_of(session, Consent.patient_id, list(consents)))
        ):
            consents[patient_id][channel] = granted
            if why := held_by_patient(Current(granted, source, changed_at)):
                held[patient_id][channel] = why
    return [
        Stored(
            row.id, {name: getattr(row, name) for name in FIELDS}, consents[row.id], held[row.id]
        )
        for row in found
    ]


def _one_of(session: Session, column: Any, values: list[Any]) -> ColumnElement[bool]:
    # On PostgreSQL one array parameter instead of a thousand placeholders: the driver spends
    # longer rewriting a long IN list than the server spends answering it.
    if session.get_bind().dialect.name == "postgresql":
        item_type = Integer() if values and isinstance(values[0], int) else String()
        condition: ColumnElement[bool] = column == any_(
            bindparam(None, values, type_=ARRAY(item_type))
        )
        return condition
    condition = column.in_(values)
    return condition


def _insert_new(
    session: Session, created: list[tuple[_Valid, Decision]], actor: str, now: datetime
) -> None:
    if not created:
        return
    # RETURNING the phone and email too, so ids are matched to rows by key: asking the database
    # to keep parameter order makes SQLite insert row by row.
    returned = session.execute(
        insert(Patient).returning(Patient.id, Patient.phone, Patient.email),
        [decision.changes | {"created_at": now, "updated_at": now} for _, decision in created],
    ).all()
    ids = {(phone, email): patient_id for patient_id, phone, email in returned}
    record_imported(
        session,
        (
            Imported(
                ids[(item.row.phone, item.row.email)], channel, granted, item.row.consent_source
            )
            for item, decision in created
            for channel, granted in decision.consents.items()
        ),
        now,
        actor,
        new_patients=True,
    )


def _update_existing(
    session: Session, updated: list[tuple[_Valid, Decision]], actor: str, now: datetime
) -> None:
    if not updated:
        return
    changed = [d for _, d in updated if d.changes]
    if changed:
        session.execute(
            update(Patient), [{"id": d.patient_id, **d.changes, "updated_at": now} for d in changed]
        )
    _write_consents(session, [(i, d) for i, d in updated if d.consents], actor, now)
    session.execute(insert(AuditLog), [_audit_values(d, actor, now) for _, d in updated])


def _write_consents(
    session: Session, updated: list[tuple[_Valid, Decision]], actor: str, now: datetime
) -> None:
    items = []
    for item, decision in updated:
        assert decision.patient_id is not None
        items += [
            Imported(decision.patient_id, channel, granted, item.row.consent_source)
            for channel, granted in decision.consents.items()
        ]
    record_imported(session, items, now, actor)


def _audit_values(decision: Decision, actor: str, now: datetime) -> dict[str, object]:
    # Which fields changed, not their values: the audit log carries no contact data.
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
