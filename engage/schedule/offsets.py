"""Step offsets such as `-3d`, `+2h`, `+1w`, `+9mo`.

Months and days are calendar units applied to the local wall-clock date (so `+1d` from 10:00 stays
10:00 local across a DST change and `+9mo` from Jan 31 lands on Oct 31); hours and minutes are
elapsed time.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_PART = re.compile(r"(\d+)(mo|w|d|h|m)")
_WHOLE = re.compile(r"^([+-])((?:\d+(?:mo|w|d|h|m))+)$")


@dataclass(frozen=True, order=True)
class Offset:
    """A signed distance from an anchor event, split into calendar and elapsed parts."""

    months: int = 0
    days: int = 0
    minutes: int = 0

    @property
    def before(self) -> bool:
        """True for an offset that points before its anchor (`-3d`, `-1d2h`): a reminder.

        schedules.yaml gives every unit one sign; an offset built with mixed signs is not one."""
        parts = (self.months, self.days, self.minutes)
        return min(parts) < 0 and max(parts) <= 0

    def __str__(self) -> str:
        sign = "-" if min(self.months, self.days, self.minutes) < 0 else "+"
        parts = [
            f"{abs(v)}{u}"
            for v, u in ((self.months, "mo"), (self.days, "d"), (self.minutes, "m"))
            if v
        ]
        return sign + ("".join(parts) or "0m")


def parse_offset(text: str) -> Offset:
    """Parse `+9mo`, `-3d`, `+1w2d`, `+30m`; raise ValueError naming the text otherwise."""
    cleaned = str(text).strip().replace(" ", "")
    match = _WHOLE.match(cleaned)
    if not match:
        raise ValueError(
            f"bad offset {text!r}: expected a sign and units such as -3d, +2h, +30m, +1w, +9mo"
        )
    sign = -1 if match.group(1) == "-" else 1
    months = days = minutes = 0
    for amount, unit in _PART.findall(match.group(2)):
        n = int(amount)
        if unit == "mo":
            months += n
        elif unit == "w":
            days += 7 * n
        elif unit == "d":
            days += n
        elif unit == "h":
            minutes += 60 * n
        else:
            minutes += n
    return Offset(sign * months, sign * days, sign * minutes)
