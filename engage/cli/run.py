"""`engage run` (what `make run` starts): the whole service in one process, embedded defaults.

SQLite, no broker server (kombu's filesystem transport), the file channel unless provider
credentials are set; the dispatcher, a Celery worker and the HTTP API share the process, and the
send tasks travel exactly the path they take in production.
"""

from __future__ import annotations

import threading
from typing import Any

import typer
from rich.console import Console

from engage.cli.api import APP
from engage.cli.serve import run_worker, settings_or_exit, worker_argv
from engage.logs import get_logger
from engage.settings import Settings

log = get_logger("engage.run")


def _start_api(settings: Settings, host: str, port: int) -> Any:
    import uvicorn

    server = uvicorn.Server(
        uvicorn.Config(APP, factory=True, host=host, port=port, log_config=None, access_log=False)
    )
    threading.Thread(target=server.run, name="api", daemon=True).start()
    return server


def _start_hl7(settings: Settings) -> None:
    """The HL7 listener on its own event loop thread (ENGAGE_HL7_ENABLED)."""
    import asyncio

    from engage.cli.hl7 import build_listener

    listener = build_listener(settings, settings.hl7_host, settings.hl7_port)
    stop = asyncio.Event()  # never set: the process ends with the worker
    threading.Thread(
        target=lambda: asyncio.run(listener.serve(stop)), name="hl7", daemon=True
    ).start()


def _sign_in_hint(sessions: Any) -> str:
    from engage.accounts.users import count_users

    with sessions() as session:
        if count_users(session):
            return "sign in with your console user; .venv/bin/engage users list shows them"
    return (
        "no user yet: create the first admin with "
        ".venv/bin/engage users create admin --role admin (it asks for a password), then sign in"
    )


def _banner(settings: Settings, host: str, port: int, samples: str, sign_in: str) -> None:
    console = Console(stderr=True, width=100, soft_wrap=True)
    console.print(f"[b]engage[/b] running on its embedded default ({settings.database_url})")
    console.print(f"  [b]console[/b]          http://{host}:{port}/console/  ({sign_in})")
    console.print(f"  API docs         http://{host}:{port}/docs  (also /health, /ready, /metrics)")
    console.print(f"  messages sent    {settings.outbox_dir.resolve()}/<message id>.json")
    console.print(f"  sample patients  {samples}")
    console.print("  watch            .venv/bin/engage status · .venv/bin/engage failed list")
    if settings.hl7_enabled:
        console.print(
            f"  HL7 (MLLP)       {settings.hl7_host}:{settings.hl7_port}  (engage hl7 status)"
        )


app = typer.Typer()  # its commands are registered in cli/main.py


@app.command("run")
def run_command(
    host: str = typer.Option("127.0.0.1", "--host"),
    port: int = typer.Option(8000, "--port"),
    samples: bool = typer.Option(
        True, "--samples/--no-samples", help="Load sample patients into an empty database."
    ),
) -> None:
    """Run dispatcher, worker and API in one process on the embedded defaults."""
    settings = settings_or_exit()
    from engage.store.migrate import upgrade

    revision = upgrade(settings.database_url)
    log.info("db.upgraded", revision=revision)
    from engage.demo.samples import load_samples
    from workers.tasks import dispatcher, runtime

    rt = runtime()
    loaded = load_samples(rt.sessions, rt.schedule) if samples else None
    note = "skipped (--no-samples)" if loaded is None else loaded
    stop = threading.Event()
    threading.Thread(
        target=dispatcher().run,
        args=(settings.dispatch_interval_seconds, stop),
        name="dispatcher",
        daemon=True,
    ).start()
    _start_api(settings, host, port)
    if settings.hl7_enabled:
        _start_hl7(settings)
    _banner(settings, host, port, note, _sign_in_hint(rt.sessions))
    try:
        code = run_worker(
            worker_argv(settings, "sms,email,dispatch", settings.send_concurrency, "threads")
        )
    finally:
        stop.set()
    if code:
        raise typer.Exit(code)
