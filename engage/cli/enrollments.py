"""`engage enrollments pause|resume|unenroll PATIENT_ID`: one enrollment, or all of a patient's.

Without `--enrollment` the command acts on every enrollment of the patient it applies to (active
ones for pause, paused ones for resume, open ones for unenroll). `--until` takes the patient's
local time when it has no offset: the pause then ends on its own.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import typer
from sqlalchemy.orm import Session

from engage import enrollment as service
from engage.cli import db as db_cli
from engage.cli.serve import settings_or_exit
from engage.enrollment.anchors import parse_event
from engage.enrollment.common import get_patient
from engage.errors import EngageError
from engage.schedule.loader import load_schedule
from engage.settings import Settings

enrollments_app = typer.Typer(
    help="Pause (optionally until a date), resume or unenroll a patient's enrollments.",
    no_args_is_help=True,
)
app = enrollments_app  # `engage enrollments`: registered in cli/main.py

PATIENT = typer.Argument(..., help="The patient's id.")
ONE = typer.Option(None, "--enrollment", help="Only this enrollment (default: all of them).")


def _fail(message: str) -> typer.Exit:
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(1)


@contextmanager
def _session(settings: Settings, *also: type[Exception]) -> Iterator[Session]:
    """A store session whose engage errors (and `also`) end the command: exit 1, the message."""
    caught: tuple[type[Exception], ...] = (EngageError, *also)
    with db_cli.open_store(settings)() as session:
        try:
            yield session
        except caught as exc:
            raise _fail(str(exc).replace("--event 'until=", "--until '")) from None


@enrollments_app.command("pause")
def pause_command(
    patient_id: int = PATIENT,
    reason: str = typer.Option(..., "--reason", help="Why (shown on the timeline)."),
    until: str = typer.Option(
        "", "--until", help="Resume on its own then: ISO time, the patient's local without offset."
    ),
    enrollment: int | None = ONE,
) -> None:
    """Hold the messages of the patient's active enrollments until resumed (or --until)."""
    settings = settings_or_exit()
    now = datetime.now(UTC)
    with _session(settings, ValueError) as session:
        patient = get_patient(session, patient_id)
        end = parse_event(f"until={until}", patient.timezone).at if until else None
        if enrollment is None:
            ids = service.pause_patient(
                session, patient_id, reason=reason, now=now, actor=db_cli.actor(), until=end
            )
        else:
            service.pause(
                session, enrollment, reason=reason, now=now, actor=db_cli.actor(), until=end
            )
            ids = [enrollment]
    when = f" until {end.astimezone(ZoneInfo(patient.timezone)):%Y-%m-%d %H:%M %Z}" if end else ""
    typer.echo(f"paused enrollment(s) {', '.join(map(str, ids))}{when}")


@enrollments_app.command("resume")
def resume_command(patient_id: int = PATIENT, enrollment: int | None = ONE) -> None:
    """Resume the patient's paused enrollments, re-planning what is ahead from now."""
    settings = settings_or_exit()
    schedule = load_schedule(settings.schedule_path)
    now = datetime.now(UTC)
    with _session(settings) as session:
        if enrollment is None:
            ids = service.resume_patient(
                session, schedule, patient_id, now=now, actor=db_cli.actor()
            )
        else:
            service.resume(session, schedule, enrollment, now=now, actor=db_cli.actor())
            ids = [enrollment]
    typer.echo(f"resumed enrollment(s) {', '.join(map(str, ids))}")


@enrollments_app.command("unenroll")
def unenroll_command(
    patient_id: int = PATIENT,
    reason: str = typer.Option(..., "--reason", help="Why (recorded on every cancelled message)."),
    enrollment: int | None = ONE,
) -> None:
    """Unenroll the patient: every message not yet sent is cancelled with the reason."""
    settings = settings_or_exit()
    now = datetime.now(UTC)
    with _session(settings) as session:
        if enrollment is None:
            done = service.unenroll_patient(
                session, patient_id, reason=reason, now=now, actor=db_cli.actor()
            )
        else:
            done = {
                enrollment: service.unenroll(
                    session, enrollment, reason=reason, now=now, actor=db_cli.actor()
                )
            }
    for enrollment_id, cancelled in done.items():
        typer.echo(f"unenrolled enrollment {enrollment_id}: {cancelled} message(s) cancelled")
