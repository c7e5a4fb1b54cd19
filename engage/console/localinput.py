"""Reading a time staff typed in a patient's zone (an <input type=datetime-local> value)."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from engage.errors import InvalidInput
from engage.planning.localtime import AmbiguousLocalTime, exact_local


def parse_local(field: str, text: object, zone: str) -> datetime:
    """The UTC instant of `text` (YYYY-MM-DDTHH:MM) on the wall in `zone`; InvalidInput if bad.

    A time the zone skips or repeats (a DST change) is refused with what engage would read
    it as: a person typed it, so a guess could put an infusion an hour off.
    """
    raw = str(text or "").strip()
    if not raw:
        raise InvalidInput(field, "required")
    try:
        naive = datetime.fromisoformat(raw)
    except ValueError:
        raise InvalidInput(field, f"{raw!r} is not a date and time (YYYY-MM-DD HH:MM)") from None
    if naive.tzinfo is not None:
        raise InvalidInput(field, "give the local time, without a UTC offset")
    try:
        return exact_local(naive, ZoneInfo(zone))
    except AmbiguousLocalTime as exc:
        raise InvalidInput(field, str(exc)) from None
