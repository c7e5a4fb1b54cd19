"""A patient's timeline, as it is: every message sent and to come, in the patient's local time,
by the channel it will actually use, with its text. The API, the CLI and the console show it."""

from __future__ import annotations

from engage.timeline.service import (
    AppointmentEntry,
    EnrollmentEntry,
    MessageEntry,
    Move,
    PatientTimeline,
    patient_timeline,
)

__all__ = [
    "AppointmentEntry",
    "EnrollmentEntry",
    "MessageEntry",
    "Move",
    "PatientTimeline",
    "patient_timeline",
]
