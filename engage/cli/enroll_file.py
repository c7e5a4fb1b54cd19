"""`engage enroll --csv FILE`: bulk enrollment with a progress bar (engage.enrollment.bulk)."""

from __future__ import annotations

import getpass
from datetime import UTC, datetime
from pathlib import Path

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from sqlalchemy.orm import Session, sessionmaker

from engage.enrollment.bulk import enroll_csv
from engage.errors import InvalidInput
from engage.schedule.models import Schedule

CSV_HELP = (
    "Enroll every row: patient_id or external_ref, sequence (several: a;b), location, and one "
    "column per event (infusion.start=ISO;ISO...). Bad rows print as FILE:LINE: problem."
)


def enroll_file(
    sessions: sessionmaker[Session], schedule: Schedule, path: Path, sequence: str
) -> None:
    progress = Progress(
        TextColumn("enrolling {task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        console=Console(stderr=True),
        transient=True,
    )
    task = progress.add_task(path.name, total=None)
    try:
        with progress:
            report = enroll_csv(
                sessions,
                schedule,
                path,
                now=datetime.now(UTC),
                actor=f"cli:{getpass.getuser()}",
                sequence=sequence,
                on_progress=lambda done, total: progress.update(task, completed=done, total=total),
            )
    except InvalidInput as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from None
    for problem in report.problems:
        typer.echo(problem)
    typer.echo(f"{path.name}: {report.summary}")
    if report.rejected:
        raise typer.Exit(1)
