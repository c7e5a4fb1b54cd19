"""`engage status`: one screen for operators (or `--json` for scripts and monitors)."""

from __future__ import annotations

import json
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

import typer
from rich.console import Console, Group
from rich.panel import Panel
from rich.table import Table

from engage.cli.serve import settings_or_exit
from engage.errors import EngageError
from engage.ops.broker_view import BrokerView, look_at_broker
from engage.ops.since import parse_window
from engage.settings import Settings

if TYPE_CHECKING:
    from engage.ops.status import Snapshot


def human(seconds: float | None) -> str:
    """1.5s, 4m 05s, 3h 12m, 2d 4h: short enough for one column."""
    if seconds is None:
        return "-"
    if seconds < 60:
        return f"{seconds:.1f}s"
    minutes, secs = divmod(int(seconds), 60)
    if minutes < 60:
        return f"{minutes}m {secs:02d}s"
    hours, minutes = divmod(minutes, 60)
    if hours < 48:
        return f"{hours}h {minutes:02d}m"
    days, hours = divmod(hours, 24)
    return f"{days}d {hours}h"


def _overview(snap: Snapshot) -> Table:
    grid = Table.grid(padding=(0, 2))
    grid.add_column(style="bold")
    grid.add_column()
    per_channel = ", ".join(f"{b.channel} {b.count}" for b in snap.backlog) or "none"
    oldest = snap.backlog_oldest_seconds
    grid.add_row(
        "Backlog",
        f"{snap.backlog_total} due and unsent ({per_channel})"
        + (f", oldest due {human(oldest)} ago" if oldest is not None else ""),
    )
    grid.add_row(
        "Lateness",
        f"p50 {human(snap.lateness_p50)}  p99 {human(snap.lateness_p99)}"
        f"  ({snap.lateness_samples} sent)",
    )
    grid.add_row("Dispatcher", _dispatcher_line(snap))
    grid.add_row("Workers", _workers_line(snap))
    grid.add_row("Queues", _queues_line(snap))
    return grid


def _dispatcher_line(snap: Snapshot) -> str:
    last = snap.dispatcher_last_event
    hint = f"; last outbox claim {human((snap.at - last).total_seconds())} ago" if last else ""
    if snap.dispatchers is None:
        return f"[yellow]unknown[/yellow] (heartbeats unreadable){hint}"
    live = snap.live_dispatchers
    if live:
        names = ", ".join(f"{b.instance} ({human(b.age(snap.at))} ago)" for b in live)
        return f"[green]alive[/green]: {names}{hint}"
    return f"[red]no heartbeat[/red] in the last 30s{hint}"


def _workers_line(snap: Snapshot) -> str:
    if snap.workers is None:
        return "[yellow]unknown[/yellow] (neither the broker nor the heartbeats could be read)"
    if not snap.workers:
        return "[red]none alive[/red] (no ping answered, no beat in the last 30s)"
    return f"[green]{len(snap.workers)} alive[/green]: {', '.join(snap.workers)}"


def _queues_line(snap: Snapshot) -> str:
    if not snap.queues.reachable:
        return f"[red]{snap.queues.error}[/red]"
    return "  ".join(f"{name} {depth}" for name, depth in snap.queues.depths.items())


def _channels(snap: Snapshot) -> Table:
    table = Table(title="Per channel", title_justify="left")
    for column in ("channel", "sent", "delivered", "failed", "flagged"):
        table.add_column(column, justify="left" if column == "channel" else "right")
    for c in snap.channels:
        failed = f"[red]{c.failed}[/red]" if c.failed else "0"
        table.add_row(c.channel, str(c.sent), str(c.delivered), failed, str(c.flagged))
    return table


def _failures(snap: Snapshot) -> Table:
    table = Table(title="Top failure reasons", title_justify="left")
    table.add_column("count", justify="right")
    table.add_column("reason", overflow="fold")
    for reason, count in snap.top_failures:
        table.add_row(str(count), reason)
    if not snap.top_failures:
        table.add_row("0", "no failures")
    return table


def render(snap: Snapshot) -> Panel:
    """The one screen."""
    title = (
        f"engage status  {snap.at:%Y-%m-%d %H:%M:%S} UTC  "
        f"(activity over the last {human(snap.window_seconds)})"
    )
    return Panel(Group(_overview(snap), "", _channels(snap), "", _failures(snap)), title=title)


app = typer.Typer()  # its commands are registered in cli/main.py
PING_TIMEOUT = 0.5  # local workers answer in milliseconds; a ping waits it out


def _gather(settings: Settings, span: timedelta, broker: Future[BrokerView]) -> Snapshot:
    # Imported here, while the broker thread pings: SQLAlchemy Core (not the ORM, whose model
    # registry engage.store would import) is most of it.
    from engage.ops.reads_engine import reads_engine
    from engage.ops.status import gather

    # The database alone, not engage.runtime (which builds channels and their SDKs).
    engine = reads_engine(settings.database_url)
    try:
        return gather(settings, engine.connect, datetime.now(UTC), window=span, broker=broker)
    finally:
        engine.dispose()


@app.command("status")
def status_command(
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object."),
    window: str = typer.Option("1h", "--window", help="Activity window: 30m, 1h, 24h, ..."),
) -> None:
    """Backlog, lateness, sends and failures per channel, queues, and who is alive."""
    try:
        span = parse_window(window, "--window")
    except EngageError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    settings = settings_or_exit()
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="status-broker") as pool:
        # First the broker (its ping waits out a timeout), then what the database side imports.
        broker = pool.submit(look_at_broker, settings, PING_TIMEOUT)
        snap = _gather(settings, span, broker)
    if as_json:
        typer.echo(json.dumps(snap.to_json(), indent=2))
        return
    Console().print(render(snap))
