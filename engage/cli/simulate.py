"""`engage simulate`: every message a patient would receive, in order, rendered."""

from __future__ import annotations

import json
from collections import Counter
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import typer
from rich.console import Console
from rich.table import Table

from engage.errors import EngageError, ScheduleError
from engage.planning.localtime import resolve_local
from engage.planning.planner import AnchorEvent, Recipient
from engage.planning.preview import PreviewItem, preview
from engage.rendering.environment import make_environment
from engage.schedule.loader import load_schedule
from engage.schedule.models import CHANNELS
from engage.schedule.zones import check_zone


def _fail(message: str) -> typer.Exit:
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(1)


def parse_moment(text: str, zone: ZoneInfo, what: str) -> datetime:
    """An ISO date-time; a naive one is read on the patient's wall clock, as `engage enroll`
    reads it (a skipped time is the first minute after the jump, a repeated one its first pass)."""
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(
            f"{what}: bad date {text!r}: expected ISO 8601 such as 2027-03-12T10:00"
        ) from None
    return moment if moment.tzinfo else resolve_local(moment, zone)


def build_events(
    anchor_name: str, anchor: str, extra: list[str], zone: ZoneInfo
) -> list[AnchorEvent]:
    """Events from `--anchor` (the sequence's own anchor) and each `--event NAME=ISO`."""
    pairs = [(anchor_name, anchor, "--anchor")]
    for item in extra:
        name, sep, value = item.partition("=")
        if not sep or not name.strip():
            raise ValueError(
                f"--event {item!r}: expected NAME=ISO, e.g. infusion.start=2027-03-14T10:00"
            )
        pairs.append((name.strip(), value.strip(), f"--event {name.strip()}"))
    counts: Counter[str] = Counter()
    events = []
    for name, value, what in pairs:
        counts[name] += 1
        n = counts[name]
        key = f"infusion:{n}" if name.startswith("infusion.") else f"{name}:{n}"
        events.append(AnchorEvent(name, parse_moment(value, zone, what), key=key, occurrence=n))
    # An infusion given only by its start ends about 45 minutes later (post-infusion steps).
    ends = {e.key for e in events if e.name == "infusion.end"}
    for event in [e for e in events if e.name == "infusion.start" and e.key not in ends]:
        events.append(
            AnchorEvent(
                "infusion.end", event.at + timedelta(minutes=45), event.key, event.occurrence
            )
        )
    return events


def _table(items: list[PreviewItem], title: str) -> Table:
    table = Table(title=title, show_lines=True)
    for column in ("local time", "UTC", "channel", "step", "template", "seg"):
        table.add_column(column, overflow="fold", no_wrap=column != "template")
    table.add_column("text", overflow="fold", ratio=1, min_width=40)
    for item in items:
        p = item.planned
        text = (f"[b]{item.subject}[/b]\n" if item.subject else "") + item.body
        if p.skip_reason:
            text = f"[red]not sent: {p.skip_reason}[/red]\n{text}"
        elif p.moved:
            text = f"[yellow]{p.moved}[/yellow]\n{text}"
        table.add_row(
            item.due_local.strftime("%a %Y-%m-%d %H:%M %Z"),
            p.due_at.strftime("%Y-%m-%d %H:%M"),
            p.channel + (" [red]critical[/red]" if p.critical else ""),
            p.step_id,
            p.template,
            "" if item.segments is None else str(item.segments),
            text,
        )
    return table


app = typer.Typer()  # its commands are registered in cli/main.py


@app.command("simulate")
def simulate_command(
    sequence: str = typer.Option(..., "--sequence", "-s", help="Sequence name in the schedule."),
    anchor: str = typer.Option(
        ..., "--anchor", help="When the sequence's anchor event happens (ISO)."
    ),
    tz: str = typer.Option(..., "--tz", help="The patient's IANA time zone."),
    event: list[str] = typer.Option([], "--event", help="More events: NAME=ISO (repeatable)."),
    locale: str = typer.Option("en", "--locale", help="en or es."),
    channels: str = typer.Option(
        "sms,email", "--channels", help="Consented channels, preferred first."
    ),
    now: str = typer.Option(
        "", "--now", help="Enrollment moment (default: well before the first event)."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print a JSON list instead of a table."),
    schedule_path: Path = typer.Option(Path("schedules.yaml"), "--schedule"),
    templates: Path = typer.Option(None, "--templates"),
) -> None:
    """Print every message a patient would receive, in order, as a table or JSON."""
    try:
        schedule = load_schedule(schedule_path)
        try:
            seq = schedule.sequence(sequence)
        except KeyError as exc:
            raise ValueError(exc.args[0]) from None
        zone = ZoneInfo(check_zone(tz))
        if locale not in schedule.clinic.locales:
            raise ValueError(
                f"--locale {locale!r}: expected one of {', '.join(schedule.clinic.locales)}"
            )
        chosen = tuple(c.strip() for c in channels.split(",") if c.strip())
        if bad := [c for c in chosen if c not in CHANNELS]:
            raise ValueError(f"--channels: unknown channel {bad[0]!r}")
        main_anchor = seq.steps[0].anchor if seq.steps else "enrolled"
        events = build_events(main_anchor, anchor, event, zone)
        moment = (
            parse_moment(now, zone, "--now")
            if now
            else (
                events[0].at
                if main_anchor == "enrolled"
                else min(e.at for e in events) - timedelta(days=30)
            )
        )
        items = preview(
            schedule=schedule,
            env=make_environment(templates or schedule_path.parent / "templates"),
            sequence=seq,
            recipient=Recipient(timezone=tz, channels=chosen),
            events=events,
            locale=locale,
            now=moment,
        )
    except ScheduleError as exc:
        raise _fail(f"{schedule_path} is invalid (run `engage validate`):\n" + str(exc)) from None
    except (ValueError, EngageError) as exc:
        raise _fail(str(exc)) from None
    if as_json:
        typer.echo(json.dumps([item.as_dict() for item in items], indent=2, ensure_ascii=False))
        return
    console = Console()
    if not console.is_terminal:
        console = Console(width=160)  # piped or captured: do not squeeze the text into 80 columns
    console.print(_table(items, f"{sequence} ({locale}, {tz}): {len(items)} messages"))
