"""Instants shown in a zone: patient things in the patient's, clinic things in the clinic's."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo


def local(value: datetime | None, zone: str, fmt: str = "%a %d %b %Y, %H:%M") -> str:
    """`value` read in `zone`, with the zone's abbreviation (e.g. "Mon 07 Dec 2026, 09:00 EST")."""
    if value is None:
        return ""
    moment = value.astimezone(ZoneInfo(zone))
    return f"{moment.strftime(fmt)} {moment.tzname()}"


def when(value: datetime | None, zone: str) -> str:
    """A short form for tables: time only for today and tomorrow is left to the reader's eye."""
    return local(value, zone, "%d %b %H:%M")


def zone_label(zone: str) -> str:
    """A zone named as staff say it: "America/New_York" -> "New York time (America/New_York)"."""
    city = zone.rsplit("/", 1)[-1].replace("_", " ")
    return f"{city} time ({zone})"


def input_value(value: datetime | None, zone: str) -> str:
    """The value of an <input type=datetime-local> for `value` read in `zone`."""
    if value is None:
        return ""
    return value.astimezone(ZoneInfo(zone)).strftime("%Y-%m-%dT%H:%M")
