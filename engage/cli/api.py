"""`engage api`: serve the HTTP API (and its OpenAPI docs at /docs) with uvicorn."""

from __future__ import annotations

import typer

from engage.cli.serve import settings_or_exit

# Served by name: the CLI starts the web app, it does not import the front doors behind it.
APP = "engage.asgi:app_from_environment"

app = typer.Typer()  # its commands are registered in cli/main.py


@app.command("api")
def api_command(
    host: str = typer.Option("127.0.0.1", "--host", help="Address to listen on."),
    port: int = typer.Option(8000, "--port", help="Port to listen on."),
    workers: int = typer.Option(1, "--workers", min=1, help="uvicorn worker processes."),
) -> None:
    """Serve the staff API and the provider webhooks (settings from ENGAGE_* variables)."""
    settings = settings_or_exit()
    import uvicorn

    from engage.cli import db as db_cli

    db_cli.open_store(settings)  # refuses to serve an unmigrated database, in one clear line
    if workers > 1:
        # Each worker process builds its own app (and engine) from the environment.
        uvicorn.run(
            APP,
            factory=True,
            host=host,
            port=port,
            workers=workers,
            log_config=None,
            access_log=False,
        )
        return
    # No access log: search query strings carry parts of phone numbers and emails.
    uvicorn.run(APP, factory=True, host=host, port=port, log_config=None, access_log=False)
