"""`engage`: the command-line entry point.

Every sub-command is registered here, by name, with its one-line help; its module (and the
libraries it needs: SQLAlchemy, Celery, Jinja2, rich...) is imported only when that command
runs, so `engage --help` and the light commands start at once. Command modules never import
this one: each defines its own `typer.Typer` and the loaders below are the only edges.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass

from engage.cli.green import GREEN_POOLS, patch_for_green_pool, requested_pool
from engage.cli.unreachable import database_problem

patch_for_green_pool(sys.argv)

import typer  # noqa: E402 - after the patch above
from typer.core import TyperCommand, TyperGroup  # noqa: E402
from typer.main import get_group  # noqa: E402

__all__ = ["COMMANDS", "GREEN_POOLS", "app", "requested_pool"]


@dataclass(frozen=True)
class Entry:
    """A sub-command: its help line for `engage --help`, and how to load its Typer app."""

    help: str
    load: Callable[[], typer.Typer]


def _api() -> typer.Typer:
    from engage.cli import api

    return api.app


def _db() -> typer.Typer:
    from engage.cli import db

    return db.app


def _demo() -> typer.Typer:
    from engage.cli import demo

    return demo.app


def _enroll() -> typer.Typer:
    from engage.cli import enroll

    return enroll.app


def _enrollments() -> typer.Typer:
    from engage.cli import enrollments

    return enrollments.app


def _failed() -> typer.Typer:
    from engage.cli import failed

    return failed.app


def _hl7() -> typer.Typer:
    from engage.cli import hl7

    return hl7.app


def _patients() -> typer.Typer:
    from engage.cli import patients

    return patients.app


def _run() -> typer.Typer:
    from engage.cli import run

    return run.app


def _serve() -> typer.Typer:
    from engage.cli import serve

    return serve.app


def _simulate() -> typer.Typer:
    from engage.cli import simulate

    return simulate.app


def _status() -> typer.Typer:
    from engage.cli import status

    return status.app


def _timeline() -> typer.Typer:
    from engage.cli import timeline

    return timeline.app


def _tokens() -> typer.Typer:
    from engage.cli import tokens

    return tokens.app


def _users() -> typer.Typer:
    from engage.cli import users

    return users.app


def _validate() -> typer.Typer:
    from engage.cli import validate

    return validate.app


# The explicit list, in the order `engage --help` shows it. tests/unit/test_cli_registry.py
# checks each help line against the command's own docstring.
COMMANDS: dict[str, Entry] = {
    "worker": Entry("Run a Celery worker that sends due messages.", _serve),
    "dispatcher": Entry("Claim due messages every tick and enqueue their send tasks.", _serve),
    "api": Entry("Serve the staff API and the provider webhooks.", _api),
    "run": Entry("Run dispatcher, worker and API in one process on the embedded defaults.", _run),
    "demo": Entry("Move sample patients through a whole course, booster included.", _demo),
    "enroll": Entry("Enroll a patient (or a CSV of them) in a course of sequences.", _enroll),
    "enrollments": Entry(
        "Pause (optionally until a date), resume or unenroll a patient's enrollments.",
        _enrollments,
    ),
    "timeline": Entry("A patient's messages, sent and to come, as they will really go.", _timeline),
    "patients": Entry("Patients: import, list, consent ledger.", _patients),
    "simulate": Entry("Print every message a patient would receive, in order.", _simulate),
    "validate": Entry("Check the schedule and its templates.", _validate),
    "status": Entry("Backlog, lateness, sends and failures per channel; who is alive.", _status),
    "failed": Entry("Dead letters: messages that failed, bounced or were flagged.", _failed),
    "hl7": Entry("The EHR's HL7 v2 feed (ADT and SIU over MLLP).", _hl7),
    "db": Entry("The database: migrations and their state.", _db),
    "tokens": Entry("API bearer tokens: create, list, revoke.", _tokens),
    "users": Entry("Console users: create, list, disable.", _users),
}


def load_command(name: str) -> TyperCommand | TyperGroup | None:
    """The click command behind `engage NAME`, its module imported now; None if unknown."""
    entry = COMMANDS.get(name)
    if entry is None:
        return None
    group = get_group(entry.load())
    command = group.commands.get(name)
    if command is not None:
        return command  # type: ignore[return-value]  # a Typer's leaf commands are TyperCommands
    group.name = name  # a sub-group (`engage db ...`): its commands are its own
    return group


class LazyGroup(TyperGroup):
    """The root group: lists commands from COMMANDS, loads one only when it is run."""

    def list_commands(self, ctx: typer.Context) -> list[str]:  # type: ignore[override]
        return list(COMMANDS)

    def get_command(self, ctx: typer.Context, cmd_name: str) -> TyperCommand | TyperGroup | None:  # type: ignore[override]
        if ctx.meta.get("engage.listing"):
            entry = COMMANDS.get(cmd_name)
            return TyperCommand(cmd_name, short_help=entry.help) if entry else None
        return load_command(cmd_name)

    def invoke(self, ctx: typer.Context) -> object:  # type: ignore[override]
        try:
            return super().invoke(ctx)
        except Exception as exc:
            line = database_problem(exc)
            if line is None:
                raise
            typer.echo(f"engage: {line}", err=True)
            raise typer.Exit(1) from None

    def format_help(self, ctx: typer.Context, formatter: object) -> None:  # type: ignore[override]
        ctx.meta["engage.listing"] = True  # the listing needs help lines, not the commands
        try:
            super().format_help(ctx, formatter)  # type: ignore[arg-type]
        finally:
            ctx.meta.pop("engage.listing", None)


app = typer.Typer(
    name="engage",
    cls=LazyGroup,
    help="Email + SMS patient-engagement automation for clinics.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)


@app.callback()
def _root() -> None:
    """Email + SMS patient-engagement automation for clinics."""
