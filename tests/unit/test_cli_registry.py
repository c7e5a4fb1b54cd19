"""The CLI registers every command explicitly and imports a command's libraries only to run it."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

from engage.cli.main import COMMANDS, load_command

CLI = Path(__file__).resolve().parents[2] / "engage" / "cli"
HEAVY = ("sqlalchemy", "celery", "jinja2", "engage.store", "engage.schedule", "fastapi")


@pytest.mark.parametrize("name", list(COMMANDS))
def test_each_registered_command_loads_under_its_name(name: str) -> None:
    command = load_command(name)
    assert command is not None
    assert command.name == name
    assert command.help  # the command's own docstring or group help


def test_an_unknown_command_loads_nothing() -> None:
    assert load_command("no-such-command") is None


def test_help_lists_every_command_without_importing_heavy_libraries() -> None:
    probe = (
        "import sys; from typer.testing import CliRunner; from engage.cli.main import app; "
        "out = CliRunner().invoke(app, ['--help']).output; "
        f"print(out); print('LOADED', [m for m in {HEAVY!r} if m in sys.modules])"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    for name in COMMANDS:
        assert f" {name} " in done.stdout
    assert "LOADED []" in done.stdout


def test_no_command_module_imports_the_entry_point() -> None:
    """cli/main imports the command modules (lazily); an import back would be a cycle."""
    for path in CLI.glob("*.py"):
        if path.name == "main.py":
            continue
        tree = ast.parse(path.read_text())
        imported = {node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)} | {
            alias.name
            for node in ast.walk(tree)
            if isinstance(node, ast.Import)
            for alias in node.names
        }
        assert "engage.cli.main" not in imported, path.name


def test_status_imports_no_database_or_broker_library_before_its_broker_thread_starts() -> None:
    """The ping waits out its timeout: it starts first, and the database side's imports (most
    of the command's CPU) run during that wait instead of before it."""
    probe = f"import sys, engage.cli.status; print('LOADED', [m for m in {HEAVY!r} if m in sys.modules])"
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert "LOADED []" in done.stdout
