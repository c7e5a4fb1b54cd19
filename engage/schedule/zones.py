"""Time zone names as people type them: the IANA name, in any case, or its city alone.

Front-desk staff know a patient lives in Chicago, not that the zone is "America/Chicago"; a CSV
from another system may write "america/new_york". Every door (console, API, import, schedule)
reads a zone through `check_zone`, so each accepts the same spellings and stores the one name.
"""

from __future__ import annotations

import functools
import re
import zoneinfo

# Shown first in the console's suggestions: the zones of the United States and its territories.
COMMON = (
    ("America/New_York", "Eastern"),
    ("America/Chicago", "Central"),
    ("America/Denver", "Mountain"),
    ("America/Phoenix", "Arizona (no daylight saving)"),
    ("America/Los_Angeles", "Pacific"),
    ("America/Anchorage", "Alaska"),
    ("Pacific/Honolulu", "Hawaii"),
    ("America/Puerto_Rico", "Puerto Rico"),
)
_LEGACY = re.compile(
    r"^(posix|right|Etc|US|Canada|Mexico|Brazil|Chile|SystemV)/|^[A-Z0-9+-]+$|^[^/]*$"
)


def check_zone(value: str) -> str:
    """The IANA name `value` means ("chicago", "America/chicago" → "America/Chicago"), or
    ValueError naming it."""
    if not isinstance(value, str) or not value.strip() or len(value) > 64:
        raise _unknown(value)
    typed = "_".join(value.strip().split())
    found = _by_folded().get(typed.casefold())
    if found is not None:
        return found
    try:  # a name the system's list leaves out but the database still reads
        zoneinfo.ZoneInfo(typed)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError, OSError):  # "America" is a folder
        raise _unknown(value) from None
    return typed


def _unknown(value: object) -> ValueError:
    return ValueError(
        f"unknown time zone {value!r}: expected a city such as Chicago or an IANA name such as "
        "America/New_York"
    )


@functools.cache
def _by_folded() -> dict[str, str]:
    """Each zone under its folded full name, and under its city. A city two names share is the
    same place (America/Indianapolis is the old name of America/Indiana/Indianapolis): the
    longer, current name is kept. The folded full name always wins."""
    names = sorted(zoneinfo.available_timezones())
    cities: dict[str, set[str]] = {}
    for name in names:
        if not _LEGACY.search(name):
            cities.setdefault(name.rsplit("/", 1)[1].casefold(), set()).add(name)
    table = {city: max(zones, key=lambda z: (z.count("/"), z)) for city, zones in cities.items()}
    table.update({name.casefold(): name for name in names})
    return table
