"""Times staff type: a wall time without offset is the patient's local time.

`2026-12-17T10:00` means 10:00 where the patient lives; a time with an offset is honoured as
given. A local time the patient's zone skips or repeats is refused (422) with the rule the CLI
applies, rather than guessed at.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated
from zoneinfo import ZoneInfo

from pydantic import AfterValidator, Field

from engage.api.fields import FIRST_YEAR, LAST_YEAR
from engage.errors import InvalidInput
from engage.planning.localtime import AmbiguousLocalTime, exact_local


def _year_in_range(moment: datetime) -> datetime:
    if not FIRST_YEAR <= moment.year <= LAST_YEAR:
        raise ValueError(f"expected a date between {FIRST_YEAR} and {LAST_YEAR}")
    return moment


WallTime = Annotated[
    datetime,
    AfterValidator(_year_in_range),
    Field(
        description="ISO 8601; without a UTC offset it is the patient's local time.",
        examples=["2027-03-10T09:00"],
    ),
]


def instant(value: datetime, zone: str, field: str) -> datetime:
    """`value` as a UTC instant, reading a naive one on the wall clock of `zone`."""
    if value.tzinfo is not None and value.utcoffset() is not None:
        return value.astimezone(UTC)
    try:
        return exact_local(value, ZoneInfo(zone))
    except AmbiguousLocalTime as exc:
        raise InvalidInput(field, str(exc)) from None
