"""The HL7 feed's journal: raw messages received (de-duplicated per sender and MSH-10), and the
filler's appointment ids with the newest message applied to each.
"""

import sqlalchemy as sa
from alembic import op

from engage.store.migrations.columns import fk, index, instant, integer, key, one_of, string, text

revision, down_revision = "0003", "0002"

STATES = ("applied", "ignored", "stale", "failed")


def upgrade() -> None:
    op.create_table(
        "hl7_message",
        *key("hl7_message"),
        string("sender", 200),
        string("control_id", 200),
        string("message_type", 16),
        instant("sent_at", nullable=True),
        instant("received_at"),
        text("raw"),
        *one_of("hl7_message", "state", STATES),
        string("ack_code", 2),
        text("reason"),
        string("error_field", 16),
        integer("attempts"),
        instant("updated_at"),
        sa.UniqueConstraint("sender", "control_id", name="uq_hl7_message_sender_control_id"),
    )
    index("hl7_message", "message_type")
    index("hl7_message", "received_at")
    index("hl7_message", "state")
    op.create_table(
        "hl7_appointment",
        *key("hl7_appointment"),
        string("filler_id", 200),
        integer("appointment_id", nullable=True),
        integer("patient_id"),
        string("status", 16),
        instant("version"),
        integer("message_id", nullable=True),
        instant("updated_at"),
        sa.UniqueConstraint("filler_id", name="uq_hl7_appointment_filler_id"),
        fk("hl7_appointment", "appointment_id", "appointment"),
        fk("hl7_appointment", "patient_id", "patient"),
        fk("hl7_appointment", "message_id", "hl7_message"),
    )
    index("hl7_appointment", "appointment_id")
    index("hl7_appointment", "patient_id")


def downgrade() -> None:
    for table in ("hl7_appointment", "hl7_message"):
        op.drop_table(table)
