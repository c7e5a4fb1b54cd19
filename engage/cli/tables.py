"""How the CLI prints a listing: a rich table, instants to the second, a missing value blank."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime

from rich.console import Console
from rich.table import Table


def print_table(headers: Sequence[str], rows: Iterable[Sequence[object]]) -> None:
    table = Table(*headers)
    for row in rows:
        table.add_row(*(_cell(value) for value in row))
    Console().print(table)


def _cell(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.isoformat(timespec="seconds")
    return str(value)
