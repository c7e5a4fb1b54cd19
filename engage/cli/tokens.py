"""`engage tokens create|list|revoke`: bearer tokens for the HTTP API.

`create` prints the token once; only its SHA-256 is stored, so a lost token is revoked and
replaced, never recovered.
"""

from __future__ import annotations

import typer

from engage.cli import db as db_cli
from engage.cli.serve import settings_or_exit
from engage.cli.tables import print_table
from engage.store.tokens import Role, create_token, list_tokens, revoke_token

tokens_app = typer.Typer(help="API bearer tokens: create, list, revoke.", no_args_is_help=True)
app = tokens_app  # `engage tokens`: registered in cli/main.py


@tokens_app.command("create")
def create_command(
    role: Role = typer.Option(..., "--role", help="staff, ops or admin."),
    name: str = typer.Option(..., "--name", help="Who or what uses it, e.g. front-desk."),
) -> None:
    """Create a token and print it once (store it now: it cannot be shown again)."""
    name = name.strip()
    if not name or len(name) > 64:
        typer.echo("error: --name: 1 to 64 characters", err=True)
        raise typer.Exit(2)
    sessions = db_cli.open_store(settings_or_exit())
    with sessions.begin() as session:
        row, raw = create_token(session, name=name, role=role, actor=db_cli.actor())
    typer.echo(f"token {row.id} ({role.value}, {name}); shown once, store it now:", err=True)
    typer.echo(raw)


@tokens_app.command("list")
def list_command() -> None:
    """Every token: id, name, role, created, revoked (never the token itself)."""
    rows = db_cli.read(list_tokens)
    print_table(
        ("id", "name", "role", "created", "revoked"),
        ((row.id, row.name, row.role, row.created_at, row.revoked_at) for row in rows),
    )


@tokens_app.command("revoke")
def revoke_command(
    token_id: int = typer.Argument(..., help="The id `engage tokens list` shows."),
) -> None:
    """Revoke a token: requests carrying it get 401 from now on."""
    db_cli.write(lambda session: revoke_token(session, token_id, actor=db_cli.actor()))
    typer.echo(f"token {token_id} revoked")
