"""Bulk enrollment: a CSV of patients and their events, planned in memory, stored set-wise.

Columns: `patient_id` or `external_ref` (which patient), `sequence` (else the caller's default;
several as `pre-infusion;post-infusion` make a course), optional `location`, and one column per
anchor event the sequences use (`infusion.start`, `consultation`, ...) holding ISO times, several
separated by `;`; a time without offset is the patient's local time.

The file is one transaction. Rows are read as the file streams, in batches whose patients are
loaded with one query. A patient new to enrollment (no open enrollment, no booked appointment)
is planned by the pure planner (`bulk_plan`) and the batch's rows stored with a few multi-row
INSERTs (`bulk_store`); any other row goes through `enroll_course_in` on its own savepoint. A row
that cannot be enrolled (unknown patient, sequence or event, already enrolled, overlapping
infusions) is reported at its line and stores nothing; any other error rolls everything back.
"""

from __future__ import annotations

import csv
import gc
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from itertools import islice
from pathlib import Path

from sqlalchemy import or_, select, union
from sqlalchemy.orm import Session, sessionmaker

from engage.enrollment.anchors import parse_event
from engage.enrollment.bulk_plan import FreshCourse, Newcomer, plan_fresh
from engage.enrollment.bulk_store import store_courses
from engage.enrollment.common import OPEN
from engage.enrollment.course import enroll_course_in
from engage.errors import EngageError, InvalidInput
from engage.planning.planner import AnchorEvent
from engage.schedule.models import Schedule
from engage.store.appointments import Appointment, AppointmentState
from engage.store.enrollments import Enrollment
from engage.store.patients import CHANNEL_ORDER, Consent, Patient

BATCH_SIZE = 1000
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
        with _fewer_collections(), sessions() as session, session.begin():
            done = 0
            for batch in _batches(reader):
                _enroll_batch(session, schedule, path.name, batch, report, now, actor, sequence)
                session.flush()
                session.expunge_all()  # one transaction, but no identity map the size of the file
                done += len(batch)
                if on_progress:
                    on_progress(done, total)
    return report


# Objects allocated before the young generation is collected, during a bulk enrollment (700 by
# default): each batch allocates far more, and collecting that often was a quarter of its CPU.
YOUNG_THRESHOLD = 100_000


@contextmanager
def _fewer_collections() -> Iterator[None]:
    """The cycle collector runs less often (not never) while a file is enrolled."""
    young, *older = gc.get_threshold()
    gc.set_threshold(max(young, YOUNG_THRESHOLD), *older)
    try:
        yield
    finally:
        gc.set_threshold(young, *older)


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
    known = _with_history(session, {p.id for p in patients.values()})
    fresh: list[FreshCourse] = []
    for row in batch:
        try:
            patient = _patient_of(row, patients)
        except InvalidInput as exc:
            _reject(report, name, row, exc)
            continue
        course = None if patient.id in known else _plan_fresh(schedule, row, patient, now, default)
        known.add(patient.id)  # a second row of the patient sees the first one's enrollment
        if course is not None:
            fresh.append(course)
            report.enrolled += 1
            continue
        store_courses(session, fresh, now=now, actor=actor)  # what the one-row path may read
        fresh = []
        try:
            with session.begin_nested():
                _enroll_row(session, schedule, row, patient, now, actor, default)
        except (EngageError, ValueError) as exc:
            _reject(report, name, row, exc)
        else:
            report.enrolled += 1
    store_courses(session, fresh, now=now, actor=actor)


def _reject(report: BulkReport, name: str, row: _Row, exc: Exception) -> None:
    report.rejected += 1
    report.problems.append(f"{name}:{row.line}: {exc}")


def _sequences(row: _Row, default: str) -> list[str]:
    return (row.values.get("sequence") or default).split(";")


def _events(row: _Row, zone: str) -> list[AnchorEvent]:
    return [
        parse_event(f"{column}={moment}", zone)
        for column, cell in row.values.items()
        if column not in NOT_EVENTS and cell
        for moment in cell.split(";")
        if moment.strip()
    ]


def _plan_fresh(
    schedule: Schedule, row: _Row, patient: Newcomer, now: datetime, default: str
) -> FreshCourse | None:
    """The row planned in memory, or None for the one-row path (which also words any error)."""
    try:
        return plan_fresh(
            schedule,
            patient,
            _sequences(row, default),
            _events(row, patient.timezone),
            now=now,
            location=row.values.get("location", ""),
        )
    except (EngageError, ValueError):
        return None


def _enroll_row(
    session: Session,
    schedule: Schedule,
    row: _Row,
    patient: Newcomer,
    now: datetime,
    actor: str,
    default: str,
) -> None:
    enroll_course_in(
        session,
        schedule,
        patient.id,
        _sequences(row, default),
        events=_events(row, patient.timezone),
        now=now,
        actor=actor,
        location=row.values.get("location", ""),
    )


def _with_history(session: Session, ids: set[int]) -> set[int]:
    """Those of `ids` with an open enrollment or a booked appointment (the one-row path's)."""
    if not ids:
        return set()
    enrolled = select(Enrollment.patient_id).where(
        Enrollment.patient_id.in_(ids), Enrollment.state.in_(OPEN)
    )
    booked = select(Appointment.patient_id).where(
        Appointment.patient_id.in_(ids), Appointment.state != AppointmentState.CANCELLED
    )
    return set(session.scalars(union(enrolled, booked)))


def _patients(session: Session, batch: list[_Row]) -> dict[str, Newcomer]:
    """The batch's patients in two queries (no ORM objects), by `id:N` and `ref:R`."""
    ids = {int(r.values["patient_id"]) for r in batch if r.values.get("patient_id", "").isdigit()}
    refs = {r.values["external_ref"] for r in batch if r.values.get("external_ref")}
    found = session.execute(
        select(
            Patient.id,
            Patient.external_ref,
            Patient.timezone,
            Patient.preferred_channel,
            Patient.phone,
            Patient.email,
            Patient.course_completed_at,
        ).where(or_(Patient.id.in_(ids), Patient.external_ref.in_(refs)))
    ).all()
    granted: dict[int, set[str]] = {}
    consents = select(Consent.patient_id, Consent.channel).where(
        Consent.patient_id.in_([p.id for p in found]), Consent.granted.is_(True)
    )
    for patient_id, channel in session.execute(consents):
        granted.setdefault(patient_id, set()).add(channel)
    by_key: dict[str, Newcomer] = {}
    for p in found:
        addresses = {"sms": p.phone, "email": p.email}
        order = (p.preferred_channel, *(c for c in CHANNEL_ORDER if c != p.preferred_channel))
        # as consented_channels: granted and an address on file, preferred first
        channels = tuple(c for c in order if c in granted.get(p.id, ()) and addresses.get(c))
        patient = Newcomer(p.id, p.timezone, channels, p.course_completed_at)
        by_key[f"id:{p.id}"] = patient
        if p.external_ref:
            by_key[f"ref:{p.external_ref}"] = patient
    return by_key


def _patient_of(row: _Row, patients: dict[str, Newcomer]) -> Newcomer:
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
