"""The database: SQLAlchemy models (one module per concept), engines, sessions, migrations.

Importing this package registers every table on `Base.metadata`.
"""

from __future__ import annotations

from engage.store.appointments import Appointment, AppointmentState
from engage.store.audit import AuditLog, audit
from engage.store.base import Base, UTCDateTime
from engage.store.db import make_engine, session_factory, transition
from engage.store.enrollments import Enrollment, EnrollmentEvent, EnrollmentState
from engage.store.messages import Message, MessageEvent, MessageState
from engage.store.patients import Consent, Patient, consented_channels

__all__ = [
    "Appointment",
    "AppointmentState",
    "AuditLog",
    "Base",
    "Consent",
    "Enrollment",
    "EnrollmentEvent",
    "EnrollmentState",
    "Message",
    "MessageEvent",
    "MessageState",
    "Patient",
    "UTCDateTime",
    "audit",
    "consented_channels",
    "make_engine",
    "session_factory",
    "transition",
]
