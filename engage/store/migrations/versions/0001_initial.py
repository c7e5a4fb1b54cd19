"""Initial schema: patients and consent, enrollments and their events, appointments, the outbox
(messages and their state events) and the audit log.

Written by hand against engage.store's models; tests/integration/test_store_migrations.py proves
the two agree on SQLite and PostgreSQL. Times are `timestamptz` on PostgreSQL; on SQLite they are
naive UTC readings (engage.store.base.UTCDateTime converts).
"""

import sqlalchemy as sa
from alembic import op

from engage.store.migrations.columns import (
    MESSAGE_STATES,
    boolean,
    fk,
    index,
    instant,
    integer,
    json_value,
    key,
    one_of,
    stamps,
    string,
    text,
)

revision, down_revision = "0001", None

ENROLLMENT_STATES = ("active", "paused", "completed", "cancelled")
APPOINTMENT_STATES = ("scheduled", "confirmed", "cancelled", "completed")


def upgrade() -> None:
    op.create_table(
        "patient",
        *key("patient"),
        string("external_ref", 64, nullable=True),
        string("first_name", 100),
        string("last_name", 100),
        string("phone", 16, nullable=True),
        string("email", 254, nullable=True),
        string("timezone", 64),
        string("locale", 8),
        string("preferred_channel", 8),
        instant("course_completed_at", nullable=True),
        *stamps(),
        sa.UniqueConstraint("external_ref", name="uq_patient_external_ref"),
        sa.UniqueConstraint("phone", name="uq_patient_phone"),
        sa.UniqueConstraint("email", name="uq_patient_email"),
    )
    op.create_table(
        "consent",
        *key("consent"),
        integer("patient_id"),
        string("channel", 8),
        boolean("granted"),
        instant("changed_at"),
        string("source", 32),
        text("notice"),
        fk("consent", "patient_id", "patient"),
        sa.UniqueConstraint("patient_id", "channel", name="uq_consent_patient_id_channel"),
    )
    op.create_table(
        "enrollment",
        *key("enrollment"),
        integer("patient_id"),
        string("sequence", 64),
        *one_of("enrollment", "state", ENROLLMENT_STATES),
        text("reason"),
        instant("enrolled_at"),
        *stamps(),
        fk("enrollment", "patient_id", "patient"),
    )
    index("enrollment", "patient_id")
    op.create_table(
        "enrollment_event",
        *key("enrollment_event"),
        integer("enrollment_id"),
        string("name", 32),
        instant("at"),
        string("key", 64),
        integer("occurrence"),
        boolean("cancelled"),
        fk("enrollment_event", "enrollment_id", "enrollment"),
        sa.UniqueConstraint(
            "enrollment_id", "name", "key", name="uq_enrollment_event_enrollment_id_name_key"
        ),
    )
    op.create_table(
        "appointment",
        *key("appointment"),
        integer("patient_id"),
        instant("starts_at"),
        instant("ends_at"),
        string("location", 200),
        *one_of("appointment", "state", APPOINTMENT_STATES),
        instant("confirmed_at", nullable=True),
        *stamps(),
        fk("appointment", "patient_id", "patient"),
    )
    index("appointment", "patient_id")
    op.create_table(
        "message",
        *key("message"),
        integer("patient_id"),
        integer("enrollment_id"),
        integer("appointment_id", nullable=True),
        string("sequence", 64),
        string("step_id", 64),
        string("event_key", 64),
        integer("occurrence"),
        string("channel", 8),
        string("template", 128),
        boolean("critical"),
        instant("due_at"),
        *one_of("message", "state", MESSAGE_STATES),
        text("reason"),
        integer("attempts"),
        string("provider", 32, nullable=True),
        string("provider_id", 64, nullable=True),
        string("provider_status", 32, nullable=True),
        string("last_error_code", 32, nullable=True),
        *stamps(),
        instant("queued_at", nullable=True),
        instant("sending_at", nullable=True),
        instant("sent_at", nullable=True),
        instant("delivered_at", nullable=True),
        fk("message", "patient_id", "patient"),
        fk("message", "enrollment_id", "enrollment"),
        fk("message", "appointment_id", "appointment"),
        sa.UniqueConstraint(
            "enrollment_id",
            "step_id",
            "event_key",
            name="uq_message_enrollment_id_step_id_event_key",
        ),
    )
    index("message", "state", "due_at")
    index("message", "patient_id")
    index("message", "appointment_id")
    index("message", "provider_id")
    op.create_table(
        "message_event",
        *key("message_event"),
        integer("message_id"),
        instant("at"),
        string("from_state", 16, nullable=True),
        string("to_state", 16),
        text("reason"),
        string("actor", 64),
        fk("message_event", "message_id", "message"),
    )
    index("message_event", "message_id")
    op.create_table(
        "audit_log",
        *key("audit_log"),
        instant("at"),
        string("actor", 64),
        string("action", 64),
        string("entity", 32),
        string("entity_id", 64),
        json_value("before", nullable=True),
        json_value("after", nullable=True),
    )
    index("audit_log", "at")


def downgrade() -> None:
    for table in (
        "audit_log",
        "message_event",
        "message",
        "appointment",
        "enrollment_event",
        "enrollment",
        "consent",
        "patient",
    ):
        op.drop_table(table)
