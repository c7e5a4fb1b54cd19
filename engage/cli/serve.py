"""Long-running commands: `engage worker`, `engage dispatcher` and the all-in-one `engage run`."""

from __future__ import annotations

import importlib.util
import signal
import socket
import threading
from types import FrameType

import typer

from engage.cli.green import GREEN_POOLS
from engage.errors import ConfigError
from engage.logs import configure_logging, get_logger
from engage.settings import Settings, load_settings

log = get_logger("engage.serve")


def settings_or_exit() -> Settings:
    """Settings from the environment; a missing or malformed variable is one line and exit 2."""
    try:
        settings = load_settings()
    except ConfigError as exc:
        typer.echo(f"error: configuration: {exc}", err=True)
        raise typer.Exit(2) from None
    configure_logging(settings.log_level, json=settings.log_json)
    return settings


def run_worker(argv: list[str]) -> int:
    """Run the Celery worker in this process and return its exit status.

    `Celery.worker_main` drops the status (`Celery.start` returns click's exit code and
    `worker_main` ignores it), so a worker ended by an unrecoverable error used to exit 0 and
    a supervisor that restarts only on failure left the clinic with no workers.
    """
    from celery.bin.celery import celery as celery_cli

    from workers.app import app as celery

    celery_cli.params[0].default = celery  # what Celery.start does: `-A` defaults to our app
    try:
        code = celery_cli.main(args=argv, standalone_mode=False)
    finally:
        celery_cli.params[0].default = None
    return int(code or 0)


def worker_argv(settings: Settings, queues: str, concurrency: int, pool: str) -> list[str]:
    argv = [
        "worker",
        "--pool",
        pool,
        "--concurrency",
        str(concurrency),
        "--queues",
        queues,
        "--loglevel",
        settings.log_level,
        "--hostname",
        "engage@%h",
    ]
    if not settings.broker_url:
        # The embedded filesystem transport has no fan-out exchanges for these.
        argv += ["--without-heartbeat", "--without-gossip", "--without-mingle"]
    return argv


def _green_pool_problem(pool: str) -> str:
    """Why this gevent/eventlet pool cannot run here, or "" (the entry point patches for it)."""
    if pool not in GREEN_POOLS:
        return ""
    if importlib.util.find_spec(pool) is None:
        return f"{pool} is not installed"
    # Patched, the standard socket class is the pool's own (gevent._socket3.socket, ...).
    if not socket.socket.__module__.startswith(pool):
        return "sockets are not patched: start it as `engage worker`"
    return ""


app = typer.Typer()  # its commands are registered in cli/main.py


@app.command("worker")
def worker_command(
    queues: str = typer.Option("sms,email,dispatch", "--queues", "-Q"),
    concurrency: int = typer.Option(
        0, "--concurrency", "-c", help="Default: ENGAGE_SEND_CONCURRENCY."
    ),
    pool: str = typer.Option(
        "threads", "--pool", "-P", help="threads (I/O-bound sends), gevent, or prefork."
    ),
    metrics_port: int = typer.Option(0, "--metrics-port", help="Serve /metrics on this port."),
) -> None:
    """Run a Celery worker that sends due messages (settings from ENGAGE_* variables)."""
    settings = settings_or_exit()
    problem = _green_pool_problem(pool)
    if problem:
        typer.echo(f"error: --pool {pool}: {problem}", err=True)
        raise typer.Exit(2)
    if metrics_port:
        from prometheus_client import start_http_server

        start_http_server(metrics_port)
    code = run_worker(worker_argv(settings, queues, concurrency or settings.send_concurrency, pool))
    if code:
        log.error("worker.exited", status=code)
        raise typer.Exit(code)


@app.command("dispatcher")
def dispatcher_command(
    interval: float = typer.Option(
        0.0, "--interval", help="Seconds between ticks (default from settings)."
    ),
) -> None:
    """Claim due messages every tick and enqueue their send tasks; run one or several."""
    settings = settings_or_exit()
    from workers.tasks import dispatcher

    stop = threading.Event()

    def _stop(signum: int, _frame: FrameType | None) -> None:
        log.info("dispatcher.stopping", signal=signum)
        stop.set()

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    log.info("dispatcher.started", interval=interval or settings.dispatch_interval_seconds)
    dispatcher().run(interval or settings.dispatch_interval_seconds, stop)
