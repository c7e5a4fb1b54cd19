"""An appointment as SIU states it: the filler's id, what happened, type, place and times.

Pure reading. The appointment's identity is the filler's id (SCH-2, else the placer's SCH-1);
its type is SCH-7 or any AIS-3; its location AIL-3 (point of care or facility). The start is
AIS-4, else SCH-11.4; the end SCH-11.5, else the start plus AIS-7 (AIS-8 units, minutes by
default); times without an offset are the clinic's wall-clock time.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal
from zoneinfo import ZoneInfo

import hl7

from engage.errors import InvalidInput
from engage.hl7.fields import required, timestamp, value

Action = Literal["book", "move", "cancel", "no-show"]
ACTIONS: dict[str, Action] = {
    "S12": "book",
    "S13": "move",
    "S14": "move",
    "S15": "cancel",
    "S17": "cancel",
    "S26": "no-show",
}
_UNITS = {"": 60, "min": 60, "m": 60, "hr": 3600, "h": 3600, "hour": 3600, "s": 1, "sec": 1}


@dataclass(frozen=True)
class Booking:
    filler_id: str
    action: Action
    types: tuple[str, ...]
    locations: tuple[str, ...]
    location_name: str
    starts_at: datetime | None
    ends_at: datetime | None


def read_booking(message: hl7.Message, event: str, zone: ZoneInfo) -> Booking:
    sch = required(message, "SCH")
    ais = _all(message, "AIS")
    ail = _all(message, "AIL")
    starts_at = _start(sch, ais, zone)
    action = ACTIONS[event]
    if starts_at is None and action in ("book", "move"):
        raise InvalidInput("SCH-11", "no start time (AIS-4 or SCH-11.4)")
    return Booking(
        filler_id=_filler_id(sch),
        action=action,
        types=tuple(code for code in [value(sch, 7, 1, 1), *(value(s, 3, 1, 1) for s in ais)]),
        locations=tuple(value(s, 3, 1, comp) for s in ail for comp in (1, 4)),
        location_name=next((_place(s) for s in ail if _place(s)), "")[:200],
        starts_at=starts_at,
        ends_at=_end(sch, ais, starts_at, zone),
    )


def _all(message: hl7.Message, name: str) -> list[hl7.Segment]:
    try:
        return list(message.segments(name))
    except KeyError:
        return []


def _filler_id(sch: hl7.Segment) -> str:
    for field in (2, 1):
        entity, namespace = value(sch, field, 1, 1), value(sch, field, 1, 2)
        if entity:
            return (f"{entity}^{namespace}" if namespace else entity)[:200]
    raise InvalidInput("SCH-2", "no filler (SCH-2) or placer (SCH-1) appointment id")


def _place(ail: hl7.Segment) -> str:
    return value(ail, 3, 1, 9) or value(ail, 3, 1, 1)


def _start(sch: hl7.Segment, ais: list[hl7.Segment], zone: ZoneInfo) -> datetime | None:
    for segment in ais:
        start = timestamp(value(segment, 4), "AIS-4", zone)
        if start is not None:
            return start
    return timestamp(value(sch, 11, 1, 4), "SCH-11.4", zone)


def _end(
    sch: hl7.Segment, ais: list[hl7.Segment], start: datetime | None, zone: ZoneInfo
) -> datetime | None:
    end = timestamp(value(sch, 11, 1, 5), "SCH-11.5", zone)
    if end is not None or start is None:
        return end
    for segment in ais:
        duration = value(segment, 7)
        if duration:
            unit = _UNITS.get(value(segment, 8, 1, 1).casefold())
            if unit is None or not duration.replace(".", "", 1).isdigit():
                raise InvalidInput("AIS-7", "duration is not a number of MIN, HR or S")
            return start + timedelta(seconds=float(duration) * unit)
    return None
