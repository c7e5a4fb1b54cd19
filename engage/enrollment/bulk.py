"""Bulk enrollment: a CSV of patients and their events, each row through `enroll_course_in`.

Columns: `patient_id` or `external_ref` (which patient), `sequence` (else the caller's default;
several as `pre-infusion;post-infusion` make a course), optional `location`, and one column per
anchor event the sequences use (`infusion.start`, `consultation`, ...) holding ISO times, several
separated by `;`; a time without offset is the patient's local time.

The file is one transaction: a row that cannot be enrolled (unknown patient, sequence or event,
already enrolled, overlapping infusions) is rolled back to its savepoint and reported at its
line; any other error rolls everything back. Rows are read as the file streams and planned in
batches whose patients are loaded with one query, so memory stays flat as the file grows.
"""

from __future__ import annotations

import csv
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from itertools import islice
from pathlib import Path

from sqlalchemy import or_, select
from sqlalchemy.orm import Session, sessionmaker

from engage.enrollment.anchors import parse_event
from engage.enrollment.course import enroll_course_in
from engage.errors import EngageError, InvalidInput
from engage.schedule.models import Schedule
from engage.store.patients import Patient

BATCH_SIZE = 500
WHO = ("patient_id", "external_ref")
NOT_EVENTS = frozenset({*WHO, "sequence", "location"})
Progress = Callable[[int, int], None]  # (rows done, rows in the file)


@dataclass
class BulkReport:
    """What a bulk enrollment did; `problems` are `FILE:LINE: what` lines, in file order."""

    enrolled: int = 0
    rejected: int = 0
    problems: list[str] = field(default_factory=list)

    @property
    def summary(self) -> str:
        return f"{self.enrolled} enrolled, {self.rejected} rejected"


@dataclass(frozen=True)
class _Row:
    line: int
    values: dict[str, str]


def enroll_csv(
    sessions: sessionmaker[Session],
    schedule: Schedule,
    path: Path,
    *,
    now: datetime,
    actor: str,
    sequence: str = "",
    on_progress: Progress | None = None,
) -> BulkReport:
    """Enroll every row of `path`; raises InvalidInput when the file itself is unusable."""
    total = _count_rows(path)
    report = BulkReport()
    with path.open(newline="", encoding="utf-8-sig") as handle:
        reader = csv.DictReader(handle)
        _check_header(path, reader.fieldnames, sequence)
        with sessions() as session, session.begin():
            done = 0
            for batch in _batches(reader):
                _enroll_batch(session, schedule, path.name, batch, report, now, actor, sequence)
                session.flush()
                session.expunge_all()  # one transaction, but no identity map the size of the file
                done += len(batch)
                if on_progress:
                    on_progress(done, total)
    return report


def _enroll_batch(
    session: Session,
    schedule: Schedule,
    name: str,
    batch: list[_Row],
    report: BulkReport,
    now: datetime,
    actor: str,
    default: str,
) -> None:
    patients = _patients(session, batch)
    for row in batch:
        try:
            patient = _patient_of(row, patients)
            with session.begin_nested():
                _enroll_row(session, schedule, row, patient, now, actor, default)
        except (EngageError, ValueError) as exc:
            report.rejected += 1
            report.problems.append(f"{name}:{row.line}: {exc}")
        else:
            report.enrolled += 1


def _enroll_row(
    session: Session,
    schedule: Schedule,
    row: _Row,
    patient: Patient,
    now: datetime,
    actor: str,
    default: str,
) -> None:
    values = row.values
    sequences = (values.get("sequence") or default).split(";")
    events = [
        parse_event(f"{column}={moment}", patient.timezone)
        for column, cell in values.items()
        if column not in NOT_EVENTS and cell
        for moment in cell.split(";")
        if moment.strip()
    ]
    enroll_course_in(
        session,
        schedule,
        patient.id,
        sequences,
        events=events,
        now=now,
        actor=actor,
        location=values.get("location", ""),
    )


def _patients(session: Session, batch: list[_Row]) -> dict[str, Patient]:
    """The batch's patients in one query, by `id:N` and `ref:R` (they stay in the session)."""
    ids = {int(r.values["patient_id"]) for r in batch if r.values.get("patient_id", "").isdigit()}
    refs = {r.values["external_ref"] for r in batch if r.values.get("external_ref")}
    found = session.scalars(
        select(Patient).where(or_(Patient.id.in_(ids), Patient.external_ref.in_(refs)))
    )
    by_key: dict[str, Patient] = {}
    for patient in found:
        by_key[f"id:{patient.id}"] = patient
        if patient.external_ref:
            by_key[f"ref:{patient.external_ref}"] = patient
    return by_key


def _patient_of(row: _Row, patients: dict[str, Patient]) -> Patient:
    given = row.values.get("patient_id", "")
    if given:
        if not given.isdigit():
            raise InvalidInput("patient_id", f"{given!r} is not a patient id")
        key, what = f"id:{given}", f"patient {given}"
    else:
        ref = row.values.get("external_ref", "")
        if not ref:
            raise InvalidInput("patient_id", "give a patient_id or an external_ref")
        key, what = f"ref:{ref}", f"patient with external_ref {ref!r}"
    patient = patients.get(key)
    if patient is None:
        raise InvalidInput("patient_id" if given else "external_ref", f"{what} not found")
    return patient


def _check_header(path: Path, columns: Sequence[str] | None, sequence: str) -> None:
    names = [c.strip() for c in columns or []]
    if not any(c in WHO for c in names):
        raise InvalidInput(f"{path.name}:1", "needs a patient_id or an external_ref column")
    if "sequence" not in names and not sequence:
        raise InvalidInput(f"{path.name}:1", "no sequence column and no default sequence given")


def _batches(reader: csv.DictReader[str]) -> Iterator[list[_Row]]:
    rows = (
        _Row(reader.line_num, {k.strip(): (v or "").strip() for k, v in record.items() if k})
        for record in reader  # cells past the header (key None) are ignored
    )
    while batch := list(islice(rows, BATCH_SIZE)):
        yield batch


def _count_rows(path: Path) -> int:
    """Data rows, for the progress bar (a quick pass over the file; quoted newlines aside)."""
    with path.open("rb") as handle:
        return max(sum(1 for _ in handle) - 1, 0)
