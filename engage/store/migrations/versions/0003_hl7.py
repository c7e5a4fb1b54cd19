"""The HL7 feed's journal: raw messages received (de-duplicated per sender and MSH-10), and the
filler's appointment ids with the newest message applied to each.
"""

import sqlalchemy as sa
from alembic import op

from engage.store.migrations.columns import fk, instant, key, one_of

revision, down_revision = "0003", "0002"

STATES = ("applied", "ignored", "stale", "failed")


def upgrade() -> None:
    op.create_table(
        "hl7_message",
        *key("hl7_message"),
        sa.Column("sender", sa.String(200), nullable=False),
        sa.Column("control_id", sa.String(200), nullable=False),
        sa.Column("message_type", sa.String(16), nullable=False),
        instant("sent_at", nullable=True),
        instant("received_at"),
        sa.Column("raw", sa.Text(), nullable=False),
        *one_of("hl7_message", "state", STATES),
        sa.Column("ack_code", sa.String(2), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("error_field", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        instant("updated_at"),
        sa.UniqueConstraint("sender", "control_id", name="uq_hl7_message_sender_control_id"),
    )
    op.create_index("ix_hl7_message_message_type", "hl7_message", ["message_type"])
    op.create_index("ix_hl7_message_received_at", "hl7_message", ["received_at"])
    op.create_index("ix_hl7_message_state", "hl7_message", ["state"])
    op.create_table(
        "hl7_appointment",
        *key("hl7_appointment"),
        sa.Column("filler_id", sa.String(200), nullable=False),
        sa.Column("appointment_id", sa.Integer(), nullable=True),
        sa.Column("patient_id", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        instant("version"),
        sa.Column("message_id", sa.Integer(), nullable=True),
        instant("updated_at"),
        sa.UniqueConstraint("filler_id", name="uq_hl7_appointment_filler_id"),
        fk("hl7_appointment", "appointment_id", "appointment"),
        fk("hl7_appointment", "patient_id", "patient"),
        fk("hl7_appointment", "message_id", "hl7_message"),
    )
    op.create_index("ix_hl7_appointment_appointment_id", "hl7_appointment", ["appointment_id"])
    op.create_index("ix_hl7_appointment_patient_id", "hl7_appointment", ["patient_id"])


def downgrade() -> None:
    for table in ("hl7_appointment", "hl7_message"):
        op.drop_table(table)
