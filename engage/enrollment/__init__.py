"""The enrollment service: what the CLI and the HTTP API call to change a patient's plan.

Each public function is one transaction (it commits, or rolls back and raises), writes an audit
row naming the actor, and keeps the outbox in step with the planner: messages already sent are
never touched, pending ones keep their ids when re-planned.
"""

from __future__ import annotations

from engage.enrollment.appointments import add_appointment, cancel_appointment, move_appointment
from engage.enrollment.lifecycle import pause, resume, unenroll
from engage.enrollment.service import complete_course, enroll

__all__ = [
    "add_appointment",
    "cancel_appointment",
    "complete_course",
    "enroll",
    "move_appointment",
    "pause",
    "resume",
    "unenroll",
]
