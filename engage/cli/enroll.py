"""`engage enroll PATIENT_ID SEQUENCE --event NAME=ISO ...`: plan and store a patient's messages."""

from __future__ import annotations

import getpass
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import typer
from sqlalchemy import select

from engage.cli import db as db_cli
from engage.cli.serve import settings_or_exit
from engage.enrollment import enroll
from engage.enrollment.anchors import parse_event
from engage.errors import EngageError
from engage.schedule.loader import load_schedule
from engage.schedule.models import Schedule
from engage.settings import Settings
from engage.store.messages import Message, MessageState
from engage.store.patients import Patient

EVENT_HELP = (
    "An anchor event, NAME=ISO-TIME (repeatable): infusion.start=2027-03-10T09:00-05:00. "
    "A time without offset is the patient's local time. Each infusion.start books an appointment."
)


def fail(message: str) -> typer.Exit:
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(1)


app = typer.Typer()  # its commands are registered in cli/main.py


@app.command("enroll")
def enroll_command(
    patient_id: int = typer.Argument(..., help="The patient's id (see `engage patients list`)."),
    sequence: str = typer.Argument(..., help="A sequence of schedules.yaml."),
    event: list[str] = typer.Option([], "--event", "-e", help=EVENT_HELP),
    location: str = typer.Option("", "--location", help="Where the infusions take place."),
) -> None:
    """Enroll a patient in a sequence: plan and store the messages, show when the first is due."""
    settings = settings_or_exit()
    schedule = _schedule(settings)
    sessions = db_cli.open_store(settings)
    with sessions() as session:
        patient = session.get(Patient, patient_id)
        if patient is None:
            raise fail(f"patient {patient_id} not found")
        try:
            events = [parse_event(text, patient.timezone) for text in event]
            enrollment = enroll(
                session,
                schedule,
                patient_id,
                sequence,
                events,
                now=datetime.now(UTC),
                actor=f"cli:{getpass.getuser()}",
                location=location,
            )
        except (ValueError, EngageError) as exc:
            raise fail(str(exc)) from None
        messages = session.scalars(
            select(Message).where(Message.enrollment_id == enrollment.id).order_by(Message.due_at)
        ).all()
        typer.echo(_summary(enrollment.id, patient, sequence, list(messages)))


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
