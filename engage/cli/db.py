"""`engage db upgrade|current`, and the one way CLI commands open the store."""

from __future__ import annotations

import getpass
from collections.abc import Callable
from typing import TypeVar

import typer
from sqlalchemy import make_url
from sqlalchemy.orm import Session, sessionmaker

from engage.cli.serve import settings_or_exit
from engage.errors import NotFound
from engage.settings import Settings
from engage.store.db import make_engine, session_factory
from engage.store.migrate import current, head, upgrade

db_app = typer.Typer(help="The database: migrations and their state.", no_args_is_help=True)
app = db_app  # `engage db`: registered in cli/main.py
T = TypeVar("T")


def shown(url: str) -> str:
    """The database URL without its password, fit to print."""
    return make_url(url).render_as_string(hide_password=True)


@db_app.command("upgrade")
def upgrade_command() -> None:
    """Create or migrate the database (ENGAGE_DATABASE_URL) to this version's schema."""
    settings = settings_or_exit()
    revision = upgrade(settings.database_url)
    typer.echo(f"database {shown(settings.database_url)} at revision {revision}")


@db_app.command("current")
def current_command() -> None:
    """Print the database's revision; exit 1 if `engage db upgrade` is needed."""
    settings = settings_or_exit()
    revision = current(settings.database_url)
    newest = head()
    typer.echo(f"database {shown(settings.database_url)} at revision {revision or 'none'}")
    if revision != newest:
        typer.echo(f"engage needs revision {newest}: run `engage db upgrade`", err=True)
        raise typer.Exit(1)


def open_store(settings: Settings) -> sessionmaker[Session]:
    """Sessions on the configured database, or one clear line and exit 1 if it is not migrated."""
    revision = current(settings.database_url)
    if revision != head():
        state = f"at revision {revision}" if revision else "not initialised"
        typer.echo(
            f"error: database {shown(settings.database_url)} is {state}; "
            "run `engage db upgrade` first",
            err=True,
        )
        raise typer.Exit(1)
    return session_factory(make_engine(settings.database_url))


def actor() -> str:
    """Who the audit log names for a change made from the CLI: the OS user."""
    return f"cli:{getpass.getuser()}"[:64]


def read(query: Callable[[Session], T]) -> T:
    """`query`'s answer, read in one session on the configured store."""
    with open_store(settings_or_exit())() as session:
        return query(session)


def write(change: Callable[[Session], T]) -> T:
    """`change` in one transaction on the configured store; NotFound ends the command (the
    message, exit 1) with nothing stored."""
    sessions = open_store(settings_or_exit())
    try:
        with sessions.begin() as session:
            return change(session)
    except NotFound as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from None
