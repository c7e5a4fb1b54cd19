"""The clinic's schedule: sequences of steps read from schedules.yaml."""

from engage.schedule.models import (
    Clinic,
    Condition,
    QuietHours,
    Schedule,
    Sequence,
    Step,
)
from engage.schedule.offsets import Offset, parse_offset

__all__ = [
    "Clinic",
    "Condition",
    "Offset",
    "QuietHours",
    "Schedule",
    "Sequence",
    "Step",
    "parse_offset",
]
