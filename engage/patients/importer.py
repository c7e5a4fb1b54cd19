"""`import_csv`: validate each row of a patients CSV and write the good ones in one transaction.

All or nothing: the file is read as a stream and written in batches inside a single transaction,
so an unexpected failure at row 60,000 (a database error, a byte that is not UTF-8, a quote that
never closes) leaves the store as it was. Bad rows and conflicts are reported as
`FILE.csv:LINE: field: problem` and do not stop the good ones. Re-importing the same file
changes nothing. A dry run (`dry_run=True`) is the same import rolled back at the end, so its
row-by-row report (`outcomes`, with each field's old and new value) is exactly what the import
would do.

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
from sqlalchemy import ARRAY, ColumnElement, Integer, String, any_, bindparam, select, union
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from engage.consent.precedence import Current, held_by_patient
from engage.errors import InvalidInput
from engage.patients import writing
from engage.patients.csvfile import Record, count_lines, open_records
from engage.patients.filekeys import FileKeys
from engage.patients.matching import FIELDS, Decision, Stored, StoredIndex, decide
from engage.patients.rows import Normalised, PatientRow, problems
from engage.store.audit import audit
from engage.store.base import utcnow
from engage.store.patients import Consent, Patient

BATCH_SIZE = 1000
ATTEMPTS = 3  # a concurrent writer storing the same external_ref: the whole import runs again
Progress = Callable[[int, int], None]  # (rows done, rows in the file: an estimate until the end)
_KINDS = ("create", "update", "unchanged")


@dataclass(frozen=True)
class RowOutcome:
    """What the import did (or, in a dry run, would do) with one row."""

    line: int
    kind: str  # create, update, unchanged, conflict, reject
    patient_id: int | None = None
    changes: tuple[tuple[str, object, object], ...] = ()  # (field, stored value, row's value)
    problems: tuple[str, ...] = ()  # `field: problem`, and `kept opted out` notes


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
    conflicts: int = 0  # rows naming a stored patient other than the one they would change
    dry_run: bool = False
    outcomes: tuple[RowOutcome, ...] = ()  # each row's, when asked for (always in a dry run)

    @property
    def rows(self) -> int:
        return self.created + self.updated + self.unchanged + self.rejected + self.conflicts

    @property
    def summary(self) -> str:
        verb = "would be " if self.dry_run else ""
        return (
            f"{self.rows} rows: {self.created} {verb}created, {self.updated} {verb}updated, "
            f"{self.unchanged} unchanged, {self.rejected} rejected"
            + (f", {self.conflicts} conflicts" if self.conflicts else "")
            + (f", {self.kept_opted_out} kept opted out" if self.kept_opted_out else "")
            + (" (dry run: nothing written)" if self.dry_run else "")
        )


@dataclass(frozen=True)
class _Valid:
    line: int
    row: PatientRow
    given: frozenset[str]  # columns whose cell was not blank


@dataclass
class _Tally:
    details: bool
    counts: dict[str, int] = field(default_factory=lambda: dict.fromkeys((*_KINDS, "conflict"), 0))
    problems: list[tuple[int, str]] = field(default_factory=list)
    rejected_lines: set[int] = field(default_factory=set)
    kept_lines: set[int] = field(default_factory=set)
    outcomes: list[RowOutcome] = field(default_factory=list)

    def reject(self, line: int, found: list[str]) -> None:
        self.problems += [(line, problem) for problem in found]
        self.rejected_lines.add(line)
        if self.details:
            self.outcomes.append(RowOutcome(line, "reject", problems=tuple(found)))

    def decided(self, item: _Valid, decision: Decision) -> None:
        self.counts[decision.kind] += 1
        found = [decision.problem] if decision.problem else []
        self.problems += [(item.line, text) for text in (*found, *decision.notes)]
        if decision.notes:
            self.kept_lines.add(item.line)
        if self.details:
            self.outcomes.append(_outcome(item.line, decision))


def import_csv(
    session_factory: sessionmaker[Session],
    path: Path | str,
    *,
    on_progress: Progress | None = None,
    actor: str = "cli",
    now: datetime | None = None,
    dry_run: bool = False,
    details: bool = False,
) -> ImportReport:
    """Import the patients in `path`; InvalidInput (nothing written) for a bad header or file.

    `dry_run`: report what would happen, write nothing. `details`: each row's outcome too.
    """
    path = Path(path)
    now = now or utcnow()
    for attempt in range(1, ATTEMPTS + 1):
        try:
            return _run(session_factory, path, on_progress, actor, now, dry_run, details)
        except IntegrityError:
            # Another writer stored a patient under one of the file's refs meanwhile: rolled
            # back whole, the import runs again and now matches that patient.
            if attempt == ATTEMPTS:
                raise InvalidInput(
                    path.name, "patients were being stored by another writer: import again"
                ) from None
    raise AssertionError("unreachable")


def _run(
    session_factory: sessionmaker[Session],
    path: Path,
    on_progress: Progress | None,
    actor: str,
    now: datetime,
    dry_run: bool,
    details: bool,
) -> ImportReport:
    total = count_lines(path)
    tally = _Tally(details or dry_run)
    with session_factory() as session, open_records(path) as (_, records), FileKeys() as seen:
        done = 0
        for consumed, batch in _batches(records, tally, seen):
            _write(session, batch, tally, actor, now)
            done += consumed
            if on_progress:
                on_progress(done, max(total, done))
        report = _report(path, tally, dry_run)
        if dry_run:
            session.rollback()
            return report
        _audit(session, path, report, actor, now)
        session.commit()
    return report


def _report(path: Path, tally: _Tally, dry_run: bool) -> ImportReport:
    return ImportReport(
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
        conflicts=tally.counts["conflict"],
        dry_run=dry_run,
        outcomes=tuple(sorted(tally.outcomes, key=lambda o: o.line)),
    )


def _audit(session: Session, path: Path, report: ImportReport, actor: str, now: datetime) -> None:
    counts = ("created", "updated", "unchanged", "rejected", "conflicts")
    audit(
        session,
        actor=actor,
        action="patients.import",
        entity="patient",
        entity_id=path.name,
        after={kind: getattr(report, kind) for kind in counts},
        at=now,
    )


def _outcome(line: int, decision: Decision) -> RowOutcome:
    changes = tuple(
        (name, decision.before.get(name), value) for name, value in decision.changes.items()
    ) + tuple(
        (f"{channel}_consent", decision.before.get(f"{channel}_consent"), granted)
        for channel, granted in decision.consents.items()
    )
    found = ((decision.problem,) if decision.problem else ()) + decision.notes
    return RowOutcome(line, decision.kind, decision.patient_id, changes, found)


def _batches(
    records: Iterator[Record], tally: _Tally, seen: FileKeys
) -> Iterator[tuple[int, list[_Valid]]]:
    """(records read, their valid rows not repeating an earlier row), BATCH_SIZE rows at a time."""
    normalised = Normalised()
    batch: list[_Valid] = []
    consumed = 0
    for record in records:
        consumed += 1
        item = _validated(record, tally, normalised)
        if item is not None:
            batch.append(item)
        if len(batch) == BATCH_SIZE:
            yield consumed, _new_rows(batch, seen, tally)
            batch, consumed = [], 0
    if batch or consumed:
        yield consumed, _new_rows(batch, seen, tally)


def _new_rows(batch: list[_Valid], seen: FileKeys, tally: _Tally) -> list[_Valid]:
    """The rows of `batch` that repeat no earlier row of the file; the others are rejected."""
    fresh = []
    for item, clash in zip(batch, seen.check([(i.line, i.row) for i in batch]), strict=True):
        if clash:
            tally.reject(item.line, [clash])
        else:
            fresh.append(item)
    return fresh


def _validated(record: Record, tally: _Tally, normalised: Normalised) -> _Valid | None:
    if record.problem:
        tally.reject(record.line, [record.problem])
        return None
    try:
        row = PatientRow.model_validate(record.cells, context=normalised)
    except PydanticValidationError as exc:
        tally.reject(record.line, problems(exc))
        return None
    given = frozenset(name for name, cell in record.cells.items() if cell.strip())
    return _Valid(record.line, row, given)


def _write(session: Session, batch: list[_Valid], tally: _Tally, actor: str, now: datetime) -> None:
    if not batch:
        return
    index = StoredIndex(_load_stored(session, [item.row for item in batch]))
    decisions = _decisions(batch, index)
    pairs = [(item.row, decision) for item, decision in decisions]
    writing.insert_new(session, [p for p in pairs if p[1].kind == "create"], now, actor)
    writing.update_existing(session, [p for p in pairs if p[1].kind == "update"], now, actor)
    for item, decision in decisions:
        tally.decided(item, decision)


def _decisions(batch: list[_Valid], index: StoredIndex) -> list[tuple[_Valid, Decision]]:
    """Each row's decision; a second row resolving to the same stored patient is not applied."""
    claimed: dict[int, int] = {}
    decisions = []
    for item in batch:
        decision = decide(item.row, set(item.given), index)
        patient_id = decision.patient_id
        if decision.kind != "conflict" and patient_id is not None:
            if patient_id in claimed:
                decision = Decision(
                    "conflict",
                    patient_id,
                    problem=f"row: patient {patient_id} again (as line {claimed[patient_id]})",
                )
            else:
                claimed[patient_id] = item.line
        decisions.append((item, decision))
    return decisions


def _load_stored(session: Session, rows: list[PatientRow]) -> list[Stored]:
    columns = [Patient.id, *(getattr(Patient, name) for name in FIELDS)]
    # One SELECT per key joined by UNION, not one SELECT with OR: each branch is planned on its
    # own index. With OR, PostgreSQL's generic plan for a prepared statement can fall back to a
    # sequential scan comparing every row with every key (seconds per batch).
    branches = [
        select(*columns).where(_one_of(session, getattr(Patient, key), values))
        for key in ("external_ref", "phone", "email")
        if (values := sorted({getattr(row, key) for row in rows if getattr(row, key)}))
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
