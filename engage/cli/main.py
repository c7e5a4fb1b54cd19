"""`engage`: the command-line entry point; each sub-command lives in its own module."""

from __future__ import annotations

import typer

app = typer.Typer(
    name="engage",
    help="Email + SMS patient-engagement automation for clinics.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)


@app.callback()
def _root() -> None:
    """Email + SMS patient-engagement automation for clinics."""


def _register() -> None:
    # Sub-command modules register themselves on `app` when imported; the list is explicit.
    from engage.cli import commands  # noqa: F401


_register()
