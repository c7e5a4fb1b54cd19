"""Pydantic models of schedules.yaml: a clinic's defaults and its named sequences of steps.

Validated at the edge (the YAML loader); the planner only ever sees these frozen values.
"""

from __future__ import annotations

import re
from datetime import time
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, field_validator, model_validator

from engage.schedule.hl7 import Hl7Feed
from engage.schedule.offsets import Offset, parse_offset
from engage.schedule.zones import check_zone

CHANNELS = ("sms", "email")
LOCALES = ("en", "es")
# Events a step may be anchored to. `infusion.*` occur once per appointment, `appointment.*` once
# per change of one; the others once.
ANCHORS = (
    "enrolled",
    "consultation",
    "infusion.start",
    "infusion.end",
    "course.completed",
    "appointment.moved",
    "appointment.cancelled",
)
REPEATING_ANCHORS = ("infusion.start", "infusion.end")
# Once per change of an appointment: the patient is told of a move or a cancellation.
NOTICE_ANCHORS = ("appointment.moved", "appointment.cancelled")

_HHMM = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)$")
_STEP_ID = re.compile(r"^[a-z0-9][a-z0-9_-]*$")


def _parse_hhmm(value: Any) -> time:
    if isinstance(value, time):
        return value
    if isinstance(value, int):  # YAML 1.1 reads an unquoted 09:00 as sexagesimal 540
        raise ValueError(f'bad time {value!r}: quote it, as "HH:MM"')
    match = _HHMM.match(str(value).strip())
    if not match:
        raise ValueError(f'bad time {value!r}: expected "HH:MM" on a 24-hour clock')
    return time(int(match.group(1)), int(match.group(2)))


def _parse_offset_value(value: Any) -> Offset:
    if isinstance(value, Offset):
        return value
    return parse_offset(str(value))


LocalTime = Annotated[time, BeforeValidator(_parse_hhmm)]
OffsetField = Annotated[Offset, BeforeValidator(_parse_offset_value)]


class _Frozen(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, arbitrary_types_allowed=True)


class QuietHours(_Frozen):
    """Recipient-local hours in which non-critical messages wait; may wrap midnight."""

    start: LocalTime = time(21, 0)
    end: LocalTime = time(8, 0)

    def contains(self, moment: time) -> bool:
        """True when a local wall-clock time falls inside the quiet window [start, end)."""
        if self.start == self.end:
            return False
        if self.start < self.end:
            return self.start <= moment < self.end
        return moment >= self.start or moment < self.end


class Condition(_Frozen):
    """Limits a step to some occurrences of a repeating anchor (e.g. only the first infusion)."""

    occurrence: Literal["first", "later", "every"] | int = "every"

    def admits(self, occurrence: int) -> bool:
        if self.occurrence == "every":
            return True
        if self.occurrence == "first":
            return occurrence == 1
        if self.occurrence == "later":
            return occurrence > 1
        return occurrence == self.occurrence


class Step(_Frozen):
    """One message of a sequence: when (anchor + offset [+ local time]), how and what."""

    id: str
    anchor: str
    offset: OffsetField = Offset()
    at: LocalTime | None = None
    channels: tuple[str, ...] = ("sms",)
    template: str
    critical: bool = False
    when: Condition = Condition()
    if_late: Literal["send", "skip"] = "send"
    attach: tuple[Literal["calendar"], ...] = ()  # email attachments, e.g. the appointment .ics
    description: str = ""

    @field_validator("id")
    @classmethod
    def _id_shape(cls, value: str) -> str:
        if not _STEP_ID.match(value):
            raise ValueError(f"bad step id {value!r}: use lowercase letters, digits, - and _")
        return value

    @field_validator("channels", mode="before")
    @classmethod
    def _channels_known(cls, value: Any) -> Any:
        items = [value] if isinstance(value, str) else list(value)
        if not items:
            raise ValueError("a step needs at least one channel")
        for item in items:
            if item not in CHANNELS:
                raise ValueError(f"unknown channel {item!r}: expected one of {', '.join(CHANNELS)}")
        return tuple(items)


class Sequence(_Frozen):
    """A named, ordered list of steps a patient can be enrolled in."""

    name: str
    description: str = ""
    steps: tuple[Step, ...]

    @model_validator(mode="after")
    def _unique_step_ids(self) -> Sequence:
        seen: set[str] = set()
        for step in self.steps:
            if step.id in seen:
                raise ValueError(f"duplicate step id {step.id!r}")
            seen.add(step.id)
        return self

    def step(self, step_id: str) -> Step:
        for step in self.steps:
            if step.id == step_id:
                return step
        raise KeyError(step_id)

    @property
    def anchors(self) -> set[str]:
        return {step.anchor for step in self.steps}


class Clinic(_Frozen):
    """Clinic-wide defaults and the values templates may quote (never hard-coded in code)."""

    name: str
    phone: str
    timezone: str
    address: str = ""
    website: str = ""
    email_from: str = "no-reply@example.org"
    quiet_hours: QuietHours = QuietHours()
    daily_cap: int = Field(default=3, ge=1)
    locales: tuple[str, ...] = LOCALES
    default_locale: str = "en"
    sms_segment_budget: dict[str, int] = Field(default_factory=lambda: {"en": 2, "es": 3})
    settings: dict[str, Any] = Field(default_factory=dict)

    @field_validator("timezone")
    @classmethod
    def _zone_exists(cls, value: str) -> str:
        return check_zone(value)


class Schedule(_Frozen):
    """The whole schedules.yaml: one clinic and its sequences by name."""

    clinic: Clinic
    anchors: tuple[str, ...] = ANCHORS
    sequences: dict[str, Sequence]
    hl7: Hl7Feed = Hl7Feed()  # the EHR feed's mapping (engage hl7 listen)

    @model_validator(mode="before")
    @classmethod
    def _name_sequences(cls, data: Any) -> Any:
        if isinstance(data, dict) and isinstance(data.get("sequences"), dict):
            named = {}
            for name, body in data["sequences"].items():
                named[name] = {"name": name, **body} if isinstance(body, dict) else body
            data = {**data, "sequences": named}
        return data

    @model_validator(mode="after")
    def _anchors_known(self) -> Schedule:
        known = set(ANCHORS) | set(self.anchors)
        for sequence in self.sequences.values():
            for step in sequence.steps:
                if step.anchor not in known:
                    raise ValueError(
                        f"sequence {sequence.name!r} step {step.id!r}: unknown anchor "
                        f"{step.anchor!r}: expected one of {', '.join(sorted(known))}"
                    )
        return self

    def sequence(self, name: str) -> Sequence:
        try:
            return self.sequences[name]
        except KeyError:
            known = ", ".join(sorted(self.sequences)) or "none"
            raise KeyError(f"unknown sequence {name!r} (known: {known})") from None
