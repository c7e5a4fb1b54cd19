"""`engage enroll PATIENT_ID SEQ[,SEQ...] --event NAME=ISO ...`: enroll a patient in a course (one
or more sequences sharing one set of appointments), `--preview` what it would plan, or enroll
every row of a file (`--csv`, enroll_file.py)."""

from __future__ import annotations

import getpass
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import typer
from sqlalchemy import select

from engage.cli import db as db_cli
from engage.cli.enroll_file import CSV_HELP, enroll_file
from engage.cli.serve import settings_or_exit
from engage.cli.timeline import print_timeline
from engage.enrollment import enroll_course
from engage.enrollment.anchors import parse_event
from engage.enrollment.dryrun import preview_course
from engage.errors import EngageError
from engage.rendering.environment import make_environment
from engage.schedule.loader import load_schedule
from engage.schedule.models import Schedule
from engage.settings import Settings
from engage.store.messages import Message, MessageState
from engage.store.patients import Patient

EVENT_HELP = (
    "An anchor event, NAME=ISO-TIME (repeatable): infusion.start=2027-03-10T09:00-05:00. "
    "A time without offset is the patient's local time (a skipped one means the first minute "
    "after the jump, a repeated one its first occurrence). Each infusion.start is an appointment "
    "of the course: booked once for every sequence; one the patient already has is reused."
)


def fail(message: str) -> typer.Exit:
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(1)


app = typer.Typer()  # its commands are registered in cli/main.py


@app.command("enroll")
def enroll_command(
    patient_id: int = typer.Argument(
        None, help="The patient's id (see `engage patients list`); not with --csv."
    ),
    sequences: str = typer.Argument(
        "", help="Sequences of schedules.yaml, comma-separated: pre-infusion,post-infusion."
    ),
    event: list[str] = typer.Option([], "--event", "-e", help=EVENT_HELP),
    location: str = typer.Option("", "--location", help="Where the infusions take place."),
    preview: bool = typer.Option(
        False, "--preview", help="Show the patient's timeline as it would be; store nothing."
    ),
    csv_file: Path = typer.Option(None, "--csv", help=CSV_HELP, exists=True, dir_okay=False),
    default: str = typer.Option("", "--sequence", help="With --csv: for rows that name none."),
) -> None:
    """Enroll a patient in a course: plan and store the messages of every sequence given."""
    settings = settings_or_exit()
    schedule = _schedule(settings)
    sessions = db_cli.open_store(settings)
    if csv_file is not None:
        return enroll_file(sessions, schedule, csv_file, default or sequences.replace(",", ";"))
    names = [name.strip() for name in sequences.split(",") if name.strip()]
    if patient_id is None or not names:
        raise fail("give PATIENT_ID SEQUENCES, or --csv FILE")
    now = datetime.now(UTC)
    with sessions() as session:
        patient = session.get(Patient, patient_id)
        if patient is None:
            raise fail(f"patient {patient_id} not found")
        try:
            events = [parse_event(text, patient.timezone) for text in event]
            if preview:
                env = make_environment(settings.templates_dir)
                found = preview_course(
                    session, schedule, env, patient_id, names, events=events, now=now
                )
                print_timeline(found, title=f"preview: patient {patient_id} in {', '.join(names)}")
                return
            course = enroll_course(
                session,
                schedule,
                patient_id,
                names,
                events=events,
                now=now,
                actor=f"cli:{getpass.getuser()}",
                location=location,
            )
        except (ValueError, EngageError) as exc:
            raise fail(str(exc)) from None
        for enrollment in course.enrollments:
            messages = session.scalars(
                select(Message)
                .where(Message.enrollment_id == enrollment.id)
                .order_by(Message.due_at)
            ).all()
            typer.echo(_summary(enrollment.id, patient, enrollment.sequence, list(messages)))
        if course.appointments:
            typer.echo(
                f"appointments: {len(course.appointments)} "
                f"({len(course.booked)} booked now, "
                f"{len(course.appointments) - len(course.booked)} already booked)"
            )


def _schedule(settings: Settings) -> Schedule:
    try:
        return load_schedule(settings.schedule_path)
    except (OSError, EngageError) as exc:
        raise fail(str(exc)) from None


def _summary(enrollment_id: int, patient: Patient, sequence: str, messages: list[Message]) -> str:
    scheduled = [m for m in messages if m.state == MessageState.SCHEDULED]
    line = (
        f"enrollment {enrollment_id}: planned {len(messages)} message(s) "
        f"for patient {patient.id} in {sequence}"
    )
    if scheduled:
        first = scheduled[0].due_at
        local = first.astimezone(ZoneInfo(patient.timezone))
        line += f"; first due {local:%Y-%m-%d %H:%M %Z} ({first:%Y-%m-%d %H:%M} UTC)"
    held = {
        state: sum(1 for m in messages if m.state == state)
        for state in (MessageState.SUPPRESSED, MessageState.FLAGGED)
    }
    notes = [f"{count} {state}" for state, count in held.items() if count]
    return line + (f" [{', '.join(notes)}]" if notes else "")
