"""The enrollment service: what the CLI, the HTTP API, the console and the HL7 feed call to change
a patient's plan.

Each public function is one transaction (it commits, or rolls back and raises), writes an audit
row naming the actor, and keeps the outbox in step with the planner: messages already sent are
never touched, pending ones keep their ids when re-planned.
"""

from __future__ import annotations

from engage.enrollment.appointments import add_appointment, cancel_appointment, move_appointment
from engage.enrollment.course import Course, Slot, enroll, enroll_course
from engage.enrollment.lifecycle import (
    pause,
    pause_patient,
    resume,
    resume_patient,
    unenroll,
    unenroll_patient,
)
from engage.enrollment.service import complete_course

__all__ = [
    "Course",
    "Slot",
    "add_appointment",
    "cancel_appointment",
    "complete_course",
    "enroll",
    "enroll_course",
    "move_appointment",
    "pause",
    "pause_patient",
    "resume",
    "resume_patient",
    "unenroll",
    "unenroll_patient",
]
