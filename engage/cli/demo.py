"""`engage demo`: watch sample patients go through a whole course in under a minute."""

from __future__ import annotations

import tempfile
from collections import Counter
from pathlib import Path
from zoneinfo import ZoneInfo

import typer
from rich.console import Console
from rich.progress import Progress
from rich.table import Table

from engage.demo.course import run_demo
from engage.errors import ScheduleError
from engage.schedule.loader import load_schedule

app = typer.Typer()  # its commands are registered in cli/main.py


@app.command("demo")
def demo_command(
    schedule_path: Path = typer.Option(Path("schedules.yaml"), "--schedule"),
    templates: Path = typer.Option(None, "--templates"),
    keep: Path = typer.Option(
        None, "--keep", help="Keep the demo database and outbox in this folder."
    ),
) -> None:
    """Move sample patients through education, six infusions, course completion and booster."""
    try:
        schedule = load_schedule(schedule_path)
    except ScheduleError as exc:
        typer.echo(f"error: {schedule_path} is invalid (run `engage validate`):\n{exc}", err=True)
        raise typer.Exit(1) from None
    console = Console(width=max(Console().width, 140))
    with tempfile.TemporaryDirectory(prefix="engage-demo-") as scratch:
        workdir = keep or Path(scratch)
        workdir.mkdir(parents=True, exist_ok=True)
        with Progress(console=console, transient=True) as progress:
            task = progress.add_task("virtual time", total=1.0)
            sent = run_demo(
                schedule,
                templates or schedule_path.parent / "templates",
                workdir,
                on_progress=lambda done: progress.update(task, completed=done),
            )
    table = Table(title="What each patient received, in their local time")
    for column in ("local time", "patient", "sequence", "step", "channel", "state", "note"):
        table.add_column(column)
    for item in sent:
        local = item.at.astimezone(ZoneInfo(item.timezone))
        table.add_row(
            local.strftime("%Y-%m-%d %a %H:%M %Z"),
            item.patient,
            item.sequence,
            item.step,
            item.channel,
            item.state,
            item.reason,
        )
    console.print(table)
    counts = Counter(item.state for item in sent)
    console.print("totals: " + ", ".join(f"{state} {n}" for state, n in sorted(counts.items())))
    if keep:
        console.print(f"database and outbox kept in {keep}")
