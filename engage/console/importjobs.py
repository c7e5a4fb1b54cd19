"""Patients imports in the background: the check, then the import, each in a thread of the
server, with progress and results in the import_job row (any server process can show them).

A large file takes minutes to check and import; the request that starts a job waits a moment
(small files finish within it) and otherwise answers at once with the job's page, which htmx
polls. The import is one transaction (all or nothing), so its progress is kept in this process
(`_live`) and, on PostgreSQL, also written to the row for the other server processes (SQLite
has one writer: the import's own transaction holds it). A job whose progress stops moving for
STALE_AFTER is shown as stopped (the server restarted); importing the file again is safe
(re-imports change nothing). Only exception class names are recorded: a database error's text
can hold PHI.
"""

from __future__ import annotations

import logging
import shutil
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import update
from sqlalchemy.orm import Session, sessionmaker

from engage.errors import Conflict, InvalidInput, NotFound
from engage.patients.check import check_csv
from engage.patients.importer import ImportReport, import_csv
from engage.store.import_jobs import ImportJob, ImportState

log = logging.getLogger(__name__)
Clock = Callable[[], datetime]
STALE_AFTER = timedelta(minutes=10)
KEEP_UPLOADS = timedelta(days=1)  # a checked file nobody confirmed is removed after this
SHOWN_PROBLEMS = 500  # the page lists this many; the counts cover them all
WAIT_SECONDS = 2.0  # a small file's check or import finishes within the request


@dataclass(frozen=True)
class Progress:
    done: int
    total: int
    at: datetime


_live: dict[int, Progress] = {}  # jobs running in this process
_lock = threading.Lock()


def folder() -> Path:
    path = Path(tempfile.gettempdir()) / "engage-console-imports"
    path.mkdir(mode=0o700, exist_ok=True)
    return path


def job_file(job: ImportJob) -> Path:
    """The upload, under its staff-given name (problems then read `clinic.csv:LINE: ...`)."""
    return folder() / f"job-{job.id}" / job.filename


def create(
    sessions: sessionmaker[Session], data: bytes, filename: str, *, actor: str, now: datetime
) -> int:
    """Store the upload and its job row (state checking); the caller starts the check."""
    prune(time.time() - KEEP_UPLOADS.total_seconds())
    with sessions.begin() as session:
        job = ImportJob(
            actor=actor[:64],
            filename=filename,
            state=ImportState.CHECKING.value,
            rows_done=0,
            rows_total=0,
            error="",
            started_at=now,
            updated_at=now,
        )
        session.add(job)
        session.flush()
        path = job_file(job)
        job_id = job.id
    path.parent.mkdir(mode=0o700, exist_ok=True)
    path.write_bytes(data)
    return job_id


def prune(before: float) -> int:
    """Remove uploads last written before `before` (epoch seconds): checked, never confirmed."""
    gone = 0
    for job_folder in folder().glob("job-*"):
        if job_folder.is_dir() and job_folder.stat().st_mtime < before:
            shutil.rmtree(job_folder, ignore_errors=True)
            gone += 1
    return gone


def load(session: Session, job_id: int) -> ImportJob:
    job = session.get(ImportJob, job_id)
    if job is None:
        raise NotFound(f"import {job_id} not found")
    return job


def progress(job: ImportJob) -> Progress:
    """Rows done of total and when that last moved: this process's live count, or the row's."""
    with _lock:
        live = _live.get(job.id)
    return live or Progress(job.rows_done, job.rows_total, job.updated_at)


def stalled(job: ImportJob, now: datetime) -> bool:
    return ImportState(job.state).running and now - progress(job).at > STALE_AFTER


def start_check(sessions: sessionmaker[Session], job_id: int, clock: Clock) -> threading.Thread:
    return _start(_check, sessions, job_id, clock)


def start_import(
    sessions: sessionmaker[Session], job_id: int, clock: Clock, *, actor: str
) -> threading.Thread:
    """Move a checked job to importing (Conflict if it is not checked) and start the import."""
    with sessions.begin() as session:
        moved = session.execute(
            update(ImportJob)
            .where(ImportJob.id == job_id, ImportJob.state == ImportState.CHECKED.value)
            .values(state=ImportState.IMPORTING.value, actor=actor[:64], updated_at=clock())
            .execution_options(synchronize_session=False)
        )
        if int(getattr(moved, "rowcount", 0) or 0) != 1:
            job = load(session, job_id)
            raise Conflict(f"import {job_id} is {job.state}, not waiting to be confirmed")
    return _start(_import, sessions, job_id, clock)


def _start(
    work: Callable[[sessionmaker[Session], int, Clock], None],
    sessions: sessionmaker[Session],
    job_id: int,
    clock: Clock,
) -> threading.Thread:
    thread = threading.Thread(
        target=_guarded, args=(work, sessions, job_id, clock), name=f"import-{job_id}", daemon=True
    )
    thread.start()
    return thread


def _guarded(
    work: Callable[[sessionmaker[Session], int, Clock], None],
    sessions: sessionmaker[Session],
    job_id: int,
    clock: Clock,
) -> None:
    try:
        work(sessions, job_id, clock)
    except InvalidInput as exc:  # a bad header: says which column, never a value
        _finish(sessions, job_id, clock, ImportState.FAILED, error=str(exc))
    except Exception as exc:  # the job must end in a state staff can read
        log.error("import job %s stopped: %s", job_id, type(exc).__name__)
        stopped = f"the job stopped ({type(exc).__name__}); import the file again"
        _finish(sessions, job_id, clock, ImportState.FAILED, error=stopped)


def _check(sessions: sessionmaker[Session], job_id: int, clock: Clock) -> None:
    with sessions() as session:
        path = job_file(load(session, job_id))
    check = check_csv(path, sessions)  # the import as a dry run: conflicts and changes too
    changes = [
        [o.line, o.patient_id, name, None if old is None else str(old), str(new)]
        for o in check.outcomes
        if o.kind == "update"
        for name, old, new in o.changes
    ]
    report = {
        "rows": check.rows,
        "valid": check.valid,
        "problem_count": len(check.problems),
        "problems": [list(p) for p in check.problems[:SHOWN_PROBLEMS]],
        "change_count": len(changes),
        "changes": changes[:SHOWN_PROBLEMS],
    }
    _finish(sessions, job_id, clock, ImportState.CHECKED, report=report, total=check.rows)


def _import(sessions: sessionmaker[Session], job_id: int, clock: Clock) -> None:
    with sessions() as session:
        job = load(session, job_id)
        path, actor = job_file(job), job.actor

    shared = sessions.kw["bind"].dialect.name != "sqlite"

    def moved(done: int, total: int) -> None:
        with _lock:
            _live[job_id] = Progress(done, total, clock())
        if shared:
            with sessions.begin() as session:
                session.execute(
                    update(ImportJob)
                    .where(ImportJob.id == job_id)
                    .values(rows_done=done, rows_total=total, updated_at=clock())
                )

    try:
        report = import_csv(sessions, path, on_progress=moved, actor=actor, now=clock())
    finally:
        with _lock:
            _live.pop(job_id, None)
    _finish(sessions, job_id, clock, ImportState.DONE, report=_summary(report))


COUNTS = ("summary", "created", "updated", "unchanged", "rejected", "kept_opted_out")


def _summary(report: ImportReport) -> dict[str, Any]:
    """What the job page shows of a finished import: its counts and the first problems."""
    shown = {name: getattr(report, name) for name in COUNTS}
    problems = list(report.problems[:SHOWN_PROBLEMS])
    return shown | {"problem_count": len(report.problems), "problems": problems}


def _finish(
    sessions: sessionmaker[Session],
    job_id: int,
    clock: Clock,
    state: ImportState,
    *,
    report: dict[str, Any] | None = None,
    total: int | None = None,
    error: str = "",
) -> None:
    with sessions.begin() as session:
        job = load(session, job_id)
        job.state = state.value
        job.updated_at = clock()
        job.error = error[:500]
        if report is not None:
            job.report = report
        if total is not None:
            job.rows_total = total
        if state in (ImportState.DONE, ImportState.FAILED):
            job.finished_at = clock()
            if state == ImportState.DONE:
                job.rows_done = job.rows_total
            path = job_file(job)
        else:
            path = None
    if path is not None:
        shutil.rmtree(path.parent, ignore_errors=True)
