"""`--since 24h` / `?since=2027-03-10T08:00`: a look-back window as an operator types it."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from engage.errors import InvalidInput

_AGO = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhdw])\s*$")
_UNIT = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


def parse_window(text: str, field: str = "window") -> timedelta:
    """`90s`, `30m`, `24h`, `7d`, `2w` as a duration."""
    match = _AGO.match(text)
    if not match:
        raise InvalidInput(field, f"{text!r}: expected a duration such as 30m, 24h or 7d")
    try:
        return timedelta(**{_UNIT[match[2]]: float(match[1])})
    except OverflowError:
        raise InvalidInput(field, f"{text!r}: too long ago") from None


def parse_since(text: str, now: datetime, field: str = "since") -> datetime:
    """A duration back from `now` (`24h`) or an ISO 8601 instant (naive means UTC)."""
    if _AGO.match(text):
        try:
            return now - parse_window(text, field)
        except OverflowError:
            raise InvalidInput(field, f"{text!r}: too long ago") from None
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        raise InvalidInput(
            field, f"{text!r}: expected a duration (30m, 24h, 7d) or an ISO 8601 time"
        ) from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
