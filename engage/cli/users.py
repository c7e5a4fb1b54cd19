"""`engage users create|list|disable`: the people who sign in to the console.

`create` asks for the password twice (or reads ENGAGE_NEW_PASSWORD, for scripts); only its
argon2id hash is stored.
"""

from __future__ import annotations

import os

import typer

from engage.accounts.users import create_user, disable_user, list_users
from engage.cli import db as db_cli
from engage.cli.serve import settings_or_exit
from engage.cli.tables import print_table
from engage.errors import Conflict, InvalidInput
from engage.store.base import utcnow
from engage.store.tokens import Role

users_app = typer.Typer(help="Console users: create, list, disable.", no_args_is_help=True)
app = users_app  # `engage users`: registered in cli/main.py


def _password() -> str:
    given = os.environ.get("ENGAGE_NEW_PASSWORD")
    if given:
        return given
    first = typer.prompt("Password (12 characters or more)", hide_input=True)
    again = typer.prompt("Repeat it", hide_input=True)
    if first != again:
        typer.echo("error: the two passwords differ", err=True)
        raise typer.Exit(2)
    return str(first)


@users_app.command("create")
def create_command(
    username: str = typer.Argument(..., help="What they type to sign in, e.g. maria.lopez."),
    role: Role = typer.Option(..., "--role", help="staff, ops or admin."),
    name: str = typer.Option("", "--name", help="How pages and the audit show them."),
) -> None:
    """Create a console user (the password is asked for, never passed as an argument)."""
    sessions = db_cli.open_store(settings_or_exit())
    password = _password()
    try:
        with sessions.begin() as session:
            user = create_user(
                session,
                username=username,
                password=password,
                role=role,
                actor=db_cli.actor(),
                display_name=name,
            )
    except (InvalidInput, Conflict) as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    typer.echo(f"user {user.username} ({role.value}) created; sign in at /console/signin")


@users_app.command("list")
def list_command() -> None:
    """Every user: username, name, role, created, disabled (never a password)."""
    rows = db_cli.read(list_users)
    print_table(
        ("username", "name", "role", "created", "disabled"),
        (
            (row.username, row.display_name, row.role, row.created_at, row.disabled_at)
            for row in rows
        ),
    )


@users_app.command("disable")
def disable_command(username: str = typer.Argument(...)) -> None:
    """Disable a user and end their sessions at once."""
    db_cli.write(
        lambda session: disable_user(session, username, actor=db_cli.actor(), now=utcnow())
    )
    typer.echo(f"user {username} disabled")
