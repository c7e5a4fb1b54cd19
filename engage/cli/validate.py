"""`engage validate [PATH]`: is schedules.yaml, and every template it names, sound?"""

from __future__ import annotations

from pathlib import Path

import typer

from engage.rendering.validate import validate

app = typer.Typer()  # its commands are registered in cli/main.py


@app.command("validate")
def validate_command(
    path: Path = typer.Argument(Path("schedules.yaml"), help="The schedule file."),
    templates: Path = typer.Option(
        None, "--templates", help="Templates folder (default: templates/ beside the schedule)."
    ),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="Hide warnings."),
) -> None:
    """Check the schedule and its templates; one `PATH:LINE:COL: message` line per problem."""
    report = validate(path, templates or path.parent / "templates")
    if not quiet:
        for warning in report.warnings:
            typer.echo(f"warning: {warning}", err=True)
    for problem in report.problems:
        typer.echo(str(problem))
    if not report.ok:
        typer.echo(f"{len(report.problems)} problem(s) in {path}", err=True)
        raise typer.Exit(1)
    typer.echo(f"{report.summary}: OK")
