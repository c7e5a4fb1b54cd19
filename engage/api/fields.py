"""Value types the routes share, bounded so that nothing out of range reaches the database."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import Path
from pydantic import AfterValidator, AwareDatetime

# Row ids are 32-bit integers on PostgreSQL: a larger id can match nothing, and asking the
# database about it would fail, so it is refused at the edge (422).
Id = Annotated[int, Path(ge=1, le=2_147_483_647)]
FIRST_YEAR, LAST_YEAR = 1970, 2200


def _in_range(moment: datetime) -> datetime:
    try:
        utc = moment.astimezone(UTC)
    except OverflowError:
        raise ValueError("date out of range") from None
    if not FIRST_YEAR <= utc.year <= LAST_YEAR:
        raise ValueError(f"expected a date between {FIRST_YEAR} and {LAST_YEAR}")
    return utc


# An instant with its UTC offset ("2027-03-14T10:00:00-07:00"); a naive time would be a guess.
# Read into UTC at once, so answers speak UTC whatever offset the request used.
Moment = Annotated[AwareDatetime, AfterValidator(_in_range)]
