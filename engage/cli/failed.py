"""`engage failed list|requeue`: the dead letters, and sending them again on purpose."""

from __future__ import annotations

import getpass
import json
from dataclasses import asdict
from datetime import UTC, datetime

import typer
from rich.console import Console
from rich.table import Table

from engage.cli.serve import settings_or_exit
from engage.errors import EngageError
from engage.ops import worklist
from engage.ops.failed import (
    FailedFilter,
    FailedMessage,
    Outcome,
    list_failed,
    requeue,
    requeue_matching,
)
from engage.ops.since import parse_since
from engage.runtime import Runtime

failed = typer.Typer(
    help="Dead letters: messages that failed, bounced or were flagged for staff.",
    no_args_is_help=True,
)
app = failed  # `engage failed`: registered in cli/main.py

SINCE_HELP = "Only those changed since: a duration back from now (24h, 7d) or an ISO time."
REASON_HELP = "Only those whose reason contains this text, or whose vendor code is exactly it."


def _filter(since: str | None, reason: str | None, limit: int | None) -> FailedFilter:
    now = datetime.now(UTC)
    try:
        moment = parse_since(since, now, "--since") if since else None
    except EngageError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    return FailedFilter(since=moment, reason=reason or None, limit=limit)


def _table(rows: list[FailedMessage]) -> Table:
    table = Table(title=f"{len(rows)} dead letter(s)", show_lines=False)
    for column in (
        "id",
        "state",
        "channel",
        "patient",
        "step",
        "code",
        "tries",
        "changed",
        "reason",
    ):
        table.add_column(column, overflow="fold")
    for r in rows:
        table.add_row(
            str(r.id),
            r.state,
            r.channel + (" [red]critical[/red]" if r.critical else ""),
            str(r.patient_id),
            f"{r.sequence}/{r.step_id}",
            r.error_code or "",
            str(r.attempts),
            r.updated_at.strftime("%Y-%m-%d %H:%M"),
            r.reason,
        )
    return table


@failed.command("list")
def list_command(
    since: str = typer.Option(None, "--since", help=SINCE_HELP),
    reason: str = typer.Option(None, "--reason", help=REASON_HELP),
    limit: int = typer.Option(200, "--limit", min=1, help="At most this many, newest first."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON lines instead of a table."),
) -> None:
    """List failed, undelivered and flagged messages with their reasons."""
    runtime = Runtime(settings_or_exit())
    flt = _filter(since, reason, limit)
    with runtime.sessions() as session:
        rows = list_failed(session, flt)
    if as_json:
        for row in rows:
            typer.echo(json.dumps(row.model_dump(), default=str))
        return
    Console(width=160).print(_table(rows))


@failed.command("requeue")
def requeue_command(
    ids: list[int] = typer.Argument(None, help="Message ids to requeue."),
    all_matching: bool = typer.Option(
        False, "--all", help="Requeue every dead letter (narrow it with --reason / --since)."
    ),
    reason: str = typer.Option(None, "--reason", help=REASON_HELP),
    since: str = typer.Option(None, "--since", help=SINCE_HELP),
    actor: str = typer.Option(None, "--actor", help="Who is requeueing (default: cli:$USER)."),
    dry_run: bool = typer.Option(False, "--dry-run", help="Say what would happen; change nothing."),
) -> None:
    """Send failed messages again: due now, audited, never one that was delivered."""
    if bool(ids) == all_matching:
        typer.echo("error: give message ids, or --all (with --reason/--since), not both", err=True)
        raise typer.Exit(2)
    if ids and (reason or since):
        typer.echo("error: --reason and --since select messages only with --all", err=True)
        raise typer.Exit(2)
    runtime = Runtime(settings_or_exit())
    who = actor or f"cli:{getpass.getuser()}"
    now = datetime.now(UTC)
    with runtime.sessions() as session:
        if all_matching:
            results = requeue_matching(session, _filter(since, reason, None), who, now)
        else:
            results = requeue(session, ids, who, now)
        if dry_run:
            session.rollback()
        else:
            session.commit()
    prefix = "dry run: " if dry_run else ""
    for result in results:
        typer.echo(prefix + result.line())
    done = sum(r.outcome is Outcome.REQUEUED for r in results)
    typer.echo(f"{prefix}{done} of {len(results)} requeued", err=True)
    if done != len(results):
        raise typer.Exit(1)


@failed.command("flagged")
def flagged_command(
    limit: int = typer.Option(200, "--limit", min=1, help="At most this many, most overdue first."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON lines instead of a table."),
) -> None:
    """Safety messages that reached nobody: the patient's name and phone to call, and why."""
    runtime = Runtime(settings_or_exit())
    with runtime.sessions() as session:
        rows = worklist.flagged(session, limit=limit)
    if as_json:
        for row in rows:
            typer.echo(json.dumps(asdict(row), default=str))
        return
    table = Table(title=f"{len(rows)} patient(s) to call")
    for column in ("message", "patient", "phone", "email", "step", "due (UTC)", "reason"):
        table.add_column(column, overflow="fold")
    for r in rows:
        table.add_row(
            str(r.message_id),
            f"{r.patient_name} (#{r.patient_id})",
            r.phone or "no phone",
            r.email or "",
            f"{r.sequence}/{r.step_id}",
            r.due_at.strftime("%Y-%m-%d %H:%M"),
            r.reason,
        )
    Console(width=160).print(table)


@failed.command("resolve")
def resolve_command(
    message_id: int = typer.Argument(..., help="The flagged message's id."),
    resolution: worklist.Resolution = typer.Option(
        ..., "--outcome", help="reached: the patient was told; unreachable: tried, no answer."
    ),
    note: str = typer.Option(..., "--note", help="What was done (kept in the audit log)."),
    actor: str = typer.Option(None, "--actor", help="Who called (default: cli:$USER)."),
) -> None:
    """Record that staff called about a flagged message; it leaves the worklist (audited)."""
    runtime = Runtime(settings_or_exit())
    who = actor or f"cli:{getpass.getuser()}"
    try:
        with runtime.sessions.begin() as session:
            done = worklist.resolve(
                session, message_id, resolution, note, actor=who, now=datetime.now(UTC)
            )
    except EngageError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from None
    typer.echo(f"message {done.message_id}: {done.reason} ({who})")
