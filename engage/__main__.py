"""`python -m engage` is the `engage` command."""

from engage.cli.main import app

app()
