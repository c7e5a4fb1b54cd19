"""`engage patients import FILE.csv`, `engage patients list` and `engage patients consent ID`."""

from __future__ import annotations

import csv
import getpass
import sys
from pathlib import Path

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from engage.cli import db as db_cli
from engage.cli.serve import settings_or_exit
from engage.consent import service as consent_service
from engage.errors import InvalidInput
from engage.patients import importer
from engage.patients.importer import ImportReport, import_csv
from engage.store.patients import Patient, consented_channels

patients_app = typer.Typer(
    help="Patients: import them from CSV, list them, show their consent ledger.",
    no_args_is_help=True,
)
app = patients_app  # `engage patients`: registered in cli/main.py


@patients_app.command("import")
def import_command(
    file: Path = typer.Argument(..., help="CSV with a header row: first_name, last_name, ..."),
    dry_run: bool = typer.Option(
        False, "--dry-run", help="Show each row's outcome and field changes; write nothing."
    ),
) -> None:
    """Import (or update) patients; prints one `FILE.csv:LINE: field: problem` per bad row.

    Identity is external_ref first; a row whose name differs from the stored patient's (for
    its ref, or on its phone or email) is a conflict, reported and not applied. The file is
    imported whole or not at all. Good rows are stored even when others are rejected; the exit
    code is 1 if any row was rejected or conflicts. Importing the same file again changes
    nothing, and never re-opens SMS or email a patient closed (STOP, unsubscribe).
    """
    settings = settings_or_exit()
    if not file.is_file():
        typer.echo(f"error: {file}: no such file", err=True)
        raise typer.Exit(1)
    sessions = db_cli.open_store(settings)
    try:
        report = _import_with_progress(sessions, file, dry_run)
    except InvalidInput as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from None
    lines = [_outcome_line(file.name, o) for o in report.outcomes] if dry_run else report.problems
    for line in lines:
        typer.echo(line)
    typer.echo(f"{file.name}: {report.summary}")
    if report.rejected or report.conflicts:
        raise typer.Exit(1)


def _outcome_line(name: str, outcome: importer.RowOutcome) -> str:
    """`FILE.csv:LINE: update patient 7: last_name 'Reyes' -> 'Lopez'; ...` for a dry run."""
    who = f" patient {outcome.patient_id}" if outcome.patient_id is not None else ""
    parts = [f"{field} {_shown(old)} -> {_shown(new)}" for field, old, new in outcome.changes]
    parts += list(outcome.problems)
    return f"{name}:{outcome.line}: {outcome.kind}{who}" + (
        ": " + "; ".join(parts) if parts else ""
    )


def _shown(value: object) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    return "(none)" if value is None else repr(value)


def _import_with_progress(
    sessions: sessionmaker[Session], file: Path, dry_run: bool
) -> ImportReport:
    console = Console(stderr=True)
    progress = Progress(
        TextColumn("importing {task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        console=console,
        transient=True,
    )
    task = progress.add_task(file.name, total=None)

    def on_progress(done: int, total: int) -> None:
        # Only files of more than one batch are worth a bar; small ones finish at once.
        if total > importer.BATCH_SIZE and not progress.live.is_started:
            progress.start()
        progress.update(task, completed=done, total=total)

    try:
        actor = f"cli:{getpass.getuser()}"
        return import_csv(sessions, file, on_progress=on_progress, actor=actor, dry_run=dry_run)
    finally:
        if progress.live.is_started:
            progress.stop()


@patients_app.command("list")
def list_command(
    limit: int = typer.Option(50, "--limit", "-n", min=1, help="Show at most this many."),
) -> None:
    """The most recently added patients, with the channels open to each."""
    settings = settings_or_exit()
    sessions = db_cli.open_store(settings)
    table = Table("id", "name", "ref", "zone", "locale", "open channels")
    with sessions() as session:
        patients = session.scalars(select(Patient).order_by(Patient.id.desc()).limit(limit)).all()
        for patient in patients:
            table.add_row(
                str(patient.id),
                f"{patient.first_name} {patient.last_name}",
                patient.external_ref or "",
                patient.timezone,
                patient.locale,
                ", ".join(consented_channels(patient)) or "none",
            )
    Console().print(table)
    typer.echo(f"{len(patients)} patient(s) shown")


@patients_app.command("consent")
def consent_command(
    patient_id: int = typer.Argument(..., help="The patient's id."),
    as_csv: bool = typer.Option(False, "--csv", help="Write the ledger as CSV, for an audit."),
) -> None:
    """The patient's consent ledger: every decision, oldest first, append-only."""
    settings = settings_or_exit()
    sessions = db_cli.open_store(settings)
    with sessions() as session:
        if session.get(Patient, patient_id) is None:
            typer.echo(f"patient {patient_id}: not found", err=True)
            raise typer.Exit(1)
        rows = [
            [
                e.at.isoformat(),
                e.channel,
                "granted" if e.granted else "closed",
                e.source,
                e.actor,
                e.origin,
                e.notice,
                e.reason,
            ]
            for e in consent_service.history(session, patient_id)
        ]
    columns = ("at", "channel", "decision", "source", "actor", "origin", "notice", "reason")
    if as_csv:
        writer = csv.writer(sys.stdout)
        writer.writerow(columns)
        writer.writerows(rows)
        return
    table = Table(*columns)
    for row in rows:
        table.add_row(*row)
    Console().print(table)
