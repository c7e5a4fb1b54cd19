"""Initial schema: patients and consent, enrollments and their events, appointments, the outbox
(messages and their state events) and the audit log.

Written by hand against engage.store's models; tests/integration/test_store_migrations.py proves
the two agree on SQLite and PostgreSQL. Times are `timestamptz` on PostgreSQL; on SQLite they are
naive UTC readings (engage.store.base.UTCDateTime converts).
"""

import sqlalchemy as sa
from alembic import op

from engage.store.migrations.columns import MESSAGE_STATES, fk, instant, key, one_of, stamps

revision, down_revision = "0001", None

ENROLLMENT_STATES = ("active", "paused", "completed", "cancelled")
APPOINTMENT_STATES = ("scheduled", "confirmed", "cancelled", "completed")


def upgrade() -> None:
    op.create_table(
        "patient",
        *key("patient"),
        sa.Column("external_ref", sa.String(64), nullable=True),
        sa.Column("first_name", sa.String(100), nullable=False),
        sa.Column("last_name", sa.String(100), nullable=False),
        sa.Column("phone", sa.String(16), nullable=True),
        sa.Column("email", sa.String(254), nullable=True),
        sa.Column("timezone", sa.String(64), nullable=False),
        sa.Column("locale", sa.String(8), nullable=False),
        sa.Column("preferred_channel", sa.String(8), nullable=False),
        instant("course_completed_at", nullable=True),
        *stamps(),
        sa.UniqueConstraint("external_ref", name="uq_patient_external_ref"),
        sa.UniqueConstraint("phone", name="uq_patient_phone"),
        sa.UniqueConstraint("email", name="uq_patient_email"),
    )
    op.create_table(
        "consent",
        *key("consent"),
        sa.Column("patient_id", sa.Integer(), nullable=False),
        sa.Column("channel", sa.String(8), nullable=False),
        sa.Column("granted", sa.Boolean(), nullable=False),
        instant("changed_at"),
        sa.Column("source", sa.String(32), nullable=False),
        sa.Column("notice", sa.Text(), nullable=False),
        fk("consent", "patient_id", "patient"),
        sa.UniqueConstraint("patient_id", "channel", name="uq_consent_patient_id_channel"),
    )
    op.create_table(
        "enrollment",
        *key("enrollment"),
        sa.Column("patient_id", sa.Integer(), nullable=False),
        sa.Column("sequence", sa.String(64), nullable=False),
        *one_of("enrollment", "state", ENROLLMENT_STATES),
        sa.Column("reason", sa.Text(), nullable=False),
        instant("enrolled_at"),
        *stamps(),
        fk("enrollment", "patient_id", "patient"),
    )
    op.create_index("ix_enrollment_patient_id", "enrollment", ["patient_id"])
    op.create_table(
        "enrollment_event",
        *key("enrollment_event"),
        sa.Column("enrollment_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(32), nullable=False),
        instant("at"),
        sa.Column("key", sa.String(64), nullable=False),
        sa.Column("occurrence", sa.Integer(), nullable=False),
        sa.Column("cancelled", sa.Boolean(), nullable=False),
        fk("enrollment_event", "enrollment_id", "enrollment"),
        sa.UniqueConstraint(
            "enrollment_id", "name", "key", name="uq_enrollment_event_enrollment_id_name_key"
        ),
    )
    op.create_table(
        "appointment",
        *key("appointment"),
        sa.Column("patient_id", sa.Integer(), nullable=False),
        instant("starts_at"),
        instant("ends_at"),
        sa.Column("location", sa.String(200), nullable=False),
        *one_of("appointment", "state", APPOINTMENT_STATES),
        instant("confirmed_at", nullable=True),
        *stamps(),
        fk("appointment", "patient_id", "patient"),
    )
    op.create_index("ix_appointment_patient_id", "appointment", ["patient_id"])
    op.create_table(
        "message",
        *key("message"),
        sa.Column("patient_id", sa.Integer(), nullable=False),
        sa.Column("enrollment_id", sa.Integer(), nullable=False),
        sa.Column("appointment_id", sa.Integer(), nullable=True),
        sa.Column("sequence", sa.String(64), nullable=False),
        sa.Column("step_id", sa.String(64), nullable=False),
        sa.Column("event_key", sa.String(64), nullable=False),
        sa.Column("occurrence", sa.Integer(), nullable=False),
        sa.Column("channel", sa.String(8), nullable=False),
        sa.Column("template", sa.String(128), nullable=False),
        sa.Column("critical", sa.Boolean(), nullable=False),
        instant("due_at"),
        *one_of("message", "state", MESSAGE_STATES),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("provider", sa.String(32), nullable=True),
        sa.Column("provider_id", sa.String(64), nullable=True),
        sa.Column("provider_status", sa.String(32), nullable=True),
        sa.Column("last_error_code", sa.String(32), nullable=True),
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
    op.create_index("ix_message_state_due_at", "message", ["state", "due_at"])
    op.create_index("ix_message_patient_id", "message", ["patient_id"])
    op.create_index("ix_message_appointment_id", "message", ["appointment_id"])
    op.create_index("ix_message_provider_id", "message", ["provider_id"])
    op.create_table(
        "message_event",
        *key("message_event"),
        sa.Column("message_id", sa.Integer(), nullable=False),
        instant("at"),
        sa.Column("from_state", sa.String(16), nullable=True),
        sa.Column("to_state", sa.String(16), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("actor", sa.String(64), nullable=False),
        fk("message_event", "message_id", "message"),
    )
    op.create_index("ix_message_event_message_id", "message_event", ["message_id"])
    op.create_table(
        "audit_log",
        *key("audit_log"),
        instant("at"),
        sa.Column("actor", sa.String(64), nullable=False),
        sa.Column("action", sa.String(64), nullable=False),
        sa.Column("entity", sa.String(32), nullable=False),
        sa.Column("entity_id", sa.String(64), nullable=False),
        sa.Column("before", sa.JSON(), nullable=True),
        sa.Column("after", sa.JSON(), nullable=True),
    )
    op.create_index("ix_audit_log_at", "audit_log", ["at"])


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
