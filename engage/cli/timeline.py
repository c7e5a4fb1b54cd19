"""`engage timeline PATIENT_ID`: every message sent and to come, as it will really happen."""

from __future__ import annotations

import json
from dataclasses import asdict
from datetime import datetime
from typing import Any

import typer
from rich.console import Console
from rich.table import Table

from engage.cli import db as db_cli
from engage.cli.serve import settings_or_exit
from engage.errors import EngageError, NotFound
from engage.rendering.environment import make_environment
from engage.schedule.loader import load_schedule
from engage.timeline import MessageEntry, PatientTimeline, patient_timeline

app = typer.Typer()  # its commands are registered in cli/main.py


def _fail(message: str) -> typer.Exit:
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(1)


def _plain(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    raise TypeError(type(value).__name__)


def _when(entry: MessageEntry) -> str:
    local = f"{entry.due_local:%a %Y-%m-%d %H:%M %Z}"
    moves = "".join(
        f"\nmoved {m.before.astimezone(entry.due_local.tzinfo):%m-%d %H:%M} -> "
        f"{m.after.astimezone(entry.due_local.tzinfo):%m-%d %H:%M}"
        for m in entry.moves
    )
    return local + moves


def _text(entry: MessageEntry) -> str:
    if entry.text is None:
        return ""
    if entry.text.problem:
        return f"[red]cannot render: {entry.text.problem}[/red]"
    subject = f"[b]{entry.text.subject}[/b]\n" if entry.text.subject else ""
    return subject + entry.text.body


def print_timeline(found: PatientTimeline, *, title: str = "") -> None:
    """The timeline as a rich table: local time (zone named) beside UTC, channel, state, text."""
    table = Table(title=title or f"patient {found.patient_id} ({found.timezone})", show_lines=True)
    for column in ("local time", "UTC", "sequence / step", "channel", "state"):
        table.add_column(column, overflow="fold", no_wrap=column in ("UTC",))
    table.add_column("text", overflow="fold", ratio=1, min_width=30)
    for entry in found.messages:
        planned = entry.planned_channel
        channel = entry.channel or "-"
        if entry.channel != planned:
            channel = f"{planned} -> {channel}"
        state = entry.shown_state + (f"\n{entry.reason}" if entry.reason else "")
        if entry.outlook:
            state += f"\n[yellow]{entry.outlook}[/yellow]"
        table.add_row(
            _when(entry),
            f"{entry.due_at:%Y-%m-%d %H:%M}",
            f"{entry.sequence} / {entry.step}",
            channel + (" [red]critical[/red]" if entry.critical else ""),
            state,
            _text(entry),
        )
    console = Console()
    if not console.is_terminal:
        console = Console(width=160)
    console.print(table)
    for appointment in found.appointments:
        line = f"appointment {appointment.id}: {appointment.starts_local:%Y-%m-%d %H:%M %Z} "
        line += f"({appointment.state})"
        for move in appointment.moves:
            zone = appointment.starts_local.tzinfo
            line += (
                f"; moved {move.before.astimezone(zone):%Y-%m-%d %H:%M} -> "
                f"{move.after.astimezone(zone):%Y-%m-%d %H:%M}"
            )
        console.print(line)


@app.command("timeline")
def timeline_command(
    patient_id: int = typer.Argument(..., help="The patient's id."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON instead of a table."),
    text: bool = typer.Option(True, "--text/--no-text", help="Render each message's text."),
) -> None:
    """Every message of a patient, sent and to come: local time (zone named) and UTC, the channel
    it will actually use given consent now, paused and moved messages, and the text."""
    settings = settings_or_exit()
    try:
        schedule = load_schedule(settings.schedule_path)
    except (OSError, EngageError) as exc:
        raise _fail(str(exc)) from None
    env = make_environment(settings.templates_dir)
    sessions = db_cli.open_store(settings)
    with sessions() as session:
        try:
            found = patient_timeline(session, schedule, env, patient_id, with_text=text)
        except NotFound as exc:
            raise _fail(str(exc)) from None
    if as_json:
        typer.echo(json.dumps(asdict(found), default=_plain, indent=2, ensure_ascii=False))
        return
    print_timeline(found)
