"""`engage hl7 listen|status|failed`: the EHR's HL7 v2 feed over MLLP (docs/hl7.md)."""

from __future__ import annotations

import asyncio
import getpass
import json
import signal
import urllib.request
from datetime import UTC, datetime, timedelta
from typing import Any

import typer
from rich.console import Console
from rich.table import Table

from engage.cli.serve import settings_or_exit
from engage.errors import Conflict, NotFound
from engage.logs import get_logger
from engage.settings import Settings

log = get_logger("engage.hl7")
hl7 = typer.Typer(help="The EHR's HL7 v2 feed (ADT and SIU over MLLP).", no_args_is_help=True)
failed = typer.Typer(
    help="HL7 messages answered AE: see them, re-apply them.", no_args_is_help=True
)
hl7.add_typer(failed, name="failed")
app = hl7  # `engage hl7`: registered in cli/main.py


def build_listener(settings: Settings, host: str, port: int) -> Any:
    """The listener, its intake and (unless disabled) its metrics endpoint."""
    from engage.hl7 import workers
    from engage.hl7.metrics import start_metrics_server
    from engage.hl7.server import Listener, tls_context
    from engage.runtime import Runtime

    rt = Runtime(settings)
    tls = None
    if settings.hl7_tls_cert and settings.hl7_tls_key:
        tls = tls_context(settings.hl7_tls_cert, settings.hl7_tls_key, settings.hl7_tls_client_ca)
    if settings.hl7_metrics_port:
        start_metrics_server(rt.engine, settings.hl7_metrics_port)
    schedule = rt.schedule  # read here: a bad schedules.yaml stops the listener at start-up

    def make_pool() -> Any:
        return workers.start_pool(settings, schedule, settings.hl7_workers)

    return Listener(workers.handle, make_pool, host, port, tls=tls)


@hl7.command("listen")
def listen(
    host: str = typer.Option(None, "--host", help="Address to bind (ENGAGE_HL7_HOST)."),
    port: int = typer.Option(None, "--port", help="MLLP port (ENGAGE_HL7_PORT, 2575)."),
) -> None:
    """Accept ADT and SIU messages over MLLP until SIGTERM or Ctrl-C."""
    settings = settings_or_exit()
    listener = build_listener(settings, host or settings.hl7_host, port or settings.hl7_port)

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        await listener.serve(stop)

    asyncio.run(main())


def _age(moment: datetime | None, now: datetime) -> str:
    if moment is None:
        return "never"
    return f"{(now - moment).total_seconds():.0f}s ago"


def _connections(url: str) -> int | None:
    """The listener's open connections from its /metrics, or None when it does not answer."""
    from prometheus_client.parser import text_string_to_metric_families

    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            text = response.read().decode()
    except OSError:
        return None
    for family in text_string_to_metric_families(text):
        if family.name == "engage_hl7_connections":
            return int(sum(sample.value for sample in family.samples))
    return None


@hl7.command("status")
def status(
    hours: int = typer.Option(24, "--hours", help="Count messages of the last N hours."),
    metrics_url: str = typer.Option(
        "", "--metrics-url", help="The listener's /metrics (default: 127.0.0.1:HL7_METRICS_PORT)."
    ),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """Connections, age of the newest message, counts by type and ACK code, dead letters."""
    from engage.hl7.journal import summary
    from engage.runtime import Runtime

    settings = settings_or_exit()
    now = datetime.now(UTC)
    feed = summary(Runtime(settings).engine, now - timedelta(hours=hours))
    url = metrics_url or f"http://127.0.0.1:{settings.hl7_metrics_port}/metrics"
    connections = _connections(url)
    if as_json:
        body = {
            "connections": connections,
            "last_received_at": feed.last_received_at.isoformat()
            if feed.last_received_at
            else None,
            "dead_letters": feed.dead_letters,
            "counts": [c.__dict__ for c in feed.counts],
        }
        typer.echo(json.dumps(body, indent=2))
        return
    console = Console(width=100)
    listener = "not answering" if connections is None else f"{connections} connection(s)"
    console.print(f"listener        {listener} ({url})")
    console.print(f"newest message  {_age(feed.last_received_at, now)}")
    console.print(f"dead letters    {feed.dead_letters}  (engage hl7 failed list)")
    table = Table(title=f"messages in the last {hours}h")
    for column in ("type", "ack", "state", "count"):
        table.add_column(column)
    for count in feed.counts:
        table.add_row(count.message_type, count.ack_code, count.state, str(count.count))
    console.print(table)


@failed.command("list")
def failed_list(
    limit: int = typer.Option(100, "--limit"), as_json: bool = typer.Option(False, "--json")
) -> None:
    """Dead letters, oldest first: the field and the reason (never the message's content)."""
    from engage.hl7.journal import dead_letters
    from engage.runtime import Runtime

    rows = dead_letters(Runtime(settings_or_exit()).engine, limit)
    if as_json:
        typer.echo(
            json.dumps([{**r.__dict__, "received_at": r.received_at.isoformat()} for r in rows])
        )
        return
    table = Table(title=f"{len(rows)} HL7 dead letter(s)")
    for column in ("id", "type", "control id", "received", "field", "tries", "reason"):
        table.add_column(column)
    for r in rows:
        table.add_row(
            str(r.id),
            r.message_type,
            r.control_id,
            r.received_at.strftime("%Y-%m-%d %H:%M:%S"),
            r.error_field,
            str(r.attempts),
            r.reason,
        )
    Console(width=140).print(table)


@failed.command("reapply")
def failed_reapply(
    ids: list[int] = typer.Argument(None, help="Journal ids (engage hl7 failed list)."),
    all_: bool = typer.Option(False, "--all", help="Every dead letter, oldest first."),
) -> None:
    """Apply dead letters again after fixing their cause (e.g. the patient's ADT arrived)."""
    from engage.hl7.intake import Intake, reapply
    from engage.hl7.journal import dead_letters
    from engage.runtime import Runtime

    rt = Runtime(settings_or_exit())
    chosen = [r.id for r in dead_letters(rt.engine, 100_000)] if all_ else list(ids or [])
    if not chosen:
        typer.echo("error: give journal ids or --all", err=True)
        raise typer.Exit(2)
    intake, actor, still = Intake(rt.engine, rt.schedule), f"cli:{getpass.getuser()}", 0
    for journal_id in chosen:
        try:
            row = reapply(intake, journal_id, actor)
        except (NotFound, Conflict) as exc:
            typer.echo(f"{journal_id}: {exc}", err=True)
            still += 1
            continue
        still += row.state == "failed"
        typer.echo(f"{journal_id}: {row.state}: {row.reason}")
    raise typer.Exit(1 if still else 0)
