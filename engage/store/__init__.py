"""The database: SQLAlchemy models (one module per concept), engines, sessions, migrations.

Importing this package registers every table on `Base.metadata`.
"""

from __future__ import annotations

from engage.store.appointments import Appointment, AppointmentState
from engage.store.audit import AuditLog, audit
from engage.store.base import Base, UTCDateTime
from engage.store.db import make_engine, session_factory
from engage.store.enrollments import Enrollment, EnrollmentEvent, EnrollmentState
from engage.store.hl7 import Hl7Appointment, Hl7Message, Hl7State
from engage.store.import_jobs import ImportJob, ImportState
from engage.store.inbound import InboundMessage, WebhookEvent
from engage.store.message_states import transition
from engage.store.messages import Message, MessageEvent, MessageState
from engage.store.patients import Consent, Patient, consented_channels
from engage.store.tokens import ApiToken, Role
from engage.store.users import LoginFailure, User, UserSession

__all__ = [
    "ApiToken",
    "Appointment",
    "AppointmentState",
    "AuditLog",
    "Base",
    "Consent",
    "Enrollment",
    "EnrollmentEvent",
    "EnrollmentState",
    "Hl7Appointment",
    "Hl7Message",
    "Hl7State",
    "ImportJob",
    "ImportState",
    "InboundMessage",
    "LoginFailure",
    "Message",
    "MessageEvent",
    "MessageState",
    "Patient",
    "Role",
    "UTCDateTime",
    "User",
    "UserSession",
    "WebhookEvent",
    "audit",
    "consented_channels",
    "make_engine",
    "session_factory",
    "transition",
]
